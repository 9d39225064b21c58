// The `backup` section of the configuration (docs/backup.md). Backups are off until a
// repository is set; then `serve` takes one every intervalHours (daily by default).
import { z } from "zod";

const int = (min: number, max: number) => {
  const error = `expected a number from ${min} to ${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};

const KeepSchema = z
  .strictObject({
    daily: int(0, 3650).default(7).meta({ description: "Daily snapshots kept (the last of each day)." }),
    weekly: int(0, 520).default(4).meta({ description: "Weekly snapshots kept (the last of each week)." }),
    monthly: int(0, 1200).default(12).meta({ description: "Monthly snapshots kept (the last of each month)." }),
  })
  .prefault({})
  .meta({ description: "Retention after each scheduled backup (restic forget --prune); 0 everywhere keeps every snapshot." });

export const BackupSchema = z
  .strictObject({
    repository: z.string({ error: "expected a restic repository such as /mnt/backup/freehold or sftp:user@host:/srv/freehold" }).min(1).optional().meta({
      description:
        "restic repository: a local folder (/mnt/backup/freehold), sftp:user@host:/path, s3:https://host/bucket/path, b2:bucket:path, rest:https://host/, rclone:remote:path. Unset: no backups.",
    }),
    passwordFile: z.string({ error: "expected a file path" }).min(1).default("secrets/backup-password").meta({
      description: "File holding the repository password (mode 0600; relative to the data folder). Keep a copy off this machine: without it the backup cannot be read.",
    }),
    restic: z.string({ error: "expected a program path" }).min(1).default("restic").meta({ description: "The restic program (a name on PATH or a path)." }),
    schedule: z.boolean({ error: "expected true or false" }).default(true).meta({ description: "Take backups from `freehold serve` on a schedule (once a repository is set)." }),
    intervalHours: int(1, 24 * 31).default(24).meta({ description: "Hours between scheduled backups." }),
    overdueHours: int(1, 24 * 62).default(36).meta({ description: "A last successful backup older than this is logged as an error (backup overdue)." }),
    keep: KeepSchema,
  })
  .prefault({})
  .meta({ description: "Backups with restic (docs/backup.md)." });

export type BackupConfig = z.output<typeof BackupSchema>;
