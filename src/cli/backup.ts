// `freehold backup init|create|list|verify|restore` (docs/backup.md): backups of the data folder
// with restic, taken while `serve` runs. Progress goes to stderr (a bar on a terminal), results
// to stdout.
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { loadConfig } from "../config/load.ts";
import type { CliIo } from "./context.ts";
import { CliError, dataDirOf, EXIT_USAGE, print } from "./context.ts";
import { table } from "./table.ts";
import { progressReporter } from "./progress-bar.ts";
import { applyRetention, BackupError, createBackup, initRepository, listBackups, restoreBackup, targetOf, verifyBackup, verifyReport } from "../backup/service.ts";
import type { OnProgress } from "../backup/service.ts";
import { ResticError } from "../backup/restic.ts";
import type { ResticTarget } from "../backup/restic.ts";

interface TargetOpts {
  repository?: string;
  passwordFile?: string;
  restic?: string;
}

function withTargetOptions(c: Command): Command {
  return c
    .option("--repository <repo>", "restic repository (default: backup.repository in freehold.yaml)")
    .option("--password-file <file>", "file holding the repository password (default: backup.passwordFile)")
    .option("--restic <program>", "the restic program (default: backup.restic, else restic on PATH)");
}

async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof BackupError || e instanceof ResticError) throw new CliError(e.message);
    throw e;
  }
}

const mib = (n: number | null) => (n === null ? "?" : `${(n / 1048576).toFixed(1)} MiB`);

export function registerBackup(program: Command, io: CliIo): void {
  const backup = program.command("backup").description("back up the data folder with restic, verify snapshots, restore onto a new machine");

  const progress = (): { on: OnProgress; end: () => void } => {
    const bar = progressReporter(io.stderr as NodeJS.WriteStream, () => io.clock.now());
    return { on: (p) => bar.update(p.phase, p.done, p.total, p.unit), end: () => bar.end() };
  };

  async function configured(cmd: Command, o: TargetOpts) {
    const dataDir = dataDirOf(cmd, io);
    return configuredAt(dataDir, o);
  }

  async function configuredAt(dataDir: string, o: TargetOpts) {
    const config = await loadConfig(dataDir);
    return { dataDir: config.dataDir, config, target: targetOf(config, o) };
  }

  /** With --repository and --password-file, no data folder is needed (a fresh machine). */
  // The temp copy verify reads goes inside the data folder: writable, and on the disk that has
  // room for the mail (/tmp is often small). Without a data folder, the system's temp folder.
  async function standalone(cmd: Command, o: TargetOpts): Promise<{ tmpParent: string; target: ResticTarget }> {
    const given = (cmd.optsWithGlobals() as { data?: string }).data ?? io.env.FREEHOLD_DATA;
    if (o.repository && o.passwordFile && !given) {
      return { tmpParent: os.tmpdir(), target: { program: o.restic ?? "restic", repository: o.repository, passwordFile: path.resolve(o.passwordFile) } };
    }
    const c = await configured(cmd, o);
    return { tmpParent: c.dataDir, target: c.target };
  }

  withTargetOptions(backup.command("init").description("create the restic repository (and a password file, when there is none)")).action(async function (this: Command) {
    await guard(async () => {
      const { target } = await configured(this, this.opts() as TargetOpts);
      const r = await initRepository(target);
      if (r.passwordCreated) print(io, `Created the repository password in ${target.passwordFile} (mode 0600). Copy it somewhere safe off this machine: without it the backups cannot be read.`);
      print(io, r.created ? `Created restic repository ${redact(target.repository)}` : `Repository ${redact(target.repository)} already exists; nothing to do`);
    });
  });

  withTargetOptions(backup.command("create").description("take a snapshot now (consistent while serve runs), then apply backup.keep"))
    .option("--no-prune", "skip retention (restic forget --prune) after the snapshot")
    .option("--json", "print the result as JSON")
    .action(async function (this: Command) {
      const o = this.opts() as TargetOpts & { prune: boolean; json?: boolean };
      await guard(async () => {
        const { dataDir, config, target } = await configured(this, o);
        const p = progress();
        let r;
        try {
          r = await createBackup({ dataDir, config, target, now: () => io.clock.now(), onProgress: p.on });
        } finally {
          p.end();
        }
        if (o.prune) await applyRetention(target, config.backup.keep);
        if (o.json) return print(io, JSON.stringify(r));
        print(io, `Snapshot ${r.snapshotId}: ${r.messages} messages, ${r.blobs} blobs, ${mib(r.bytes)}; ${mib(r.added)} added to the repository (${r.filesUnmodified} files unchanged) in ${(r.durationMs / 1000).toFixed(1)} s`);
      });
    });

  withTargetOptions(backup.command("list").description("list the snapshots: date, messages, size"))
    .option("--json", "print JSON")
    .action(async function (this: Command) {
      const o = this.opts() as TargetOpts & { json?: boolean };
      await guard(async () => {
        const { target } = await standalone(this, o);
        const snaps = await listBackups(target);
        if (o.json) return print(io, JSON.stringify(snaps, null, 2));
        if (snaps.length === 0) return print(io, "No snapshots yet: run `freehold backup create`.");
        print(io, table(["SNAPSHOT", "DATE (UTC)", "HOST", "MESSAGES", "SIZE"], snaps.map((s) => [s.shortId, s.time.slice(0, 19).replace("T", " "), s.host, s.messages === null ? "?" : String(s.messages), mib(s.bytes)])));
      });
    });

  withTargetOptions(backup.command("verify").description("read a whole snapshot back and check every blob and database against its manifest"))
    .option("--snapshot <id>", "snapshot to check (default: the latest)")
    .option("--json", "print JSON")
    .action(async function (this: Command) {
      const o = this.opts() as TargetOpts & { snapshot?: string; json?: boolean };
      await guard(async () => {
        const { tmpParent, target } = await standalone(this, o);
        const p = progress();
        let v;
        try {
          v = await verifyBackup(target, { snapshot: o.snapshot, tmpParent, onProgress: p.on });
        } finally {
          p.end();
        }
        const ok = v.manifest !== null && v.problems.length === 0;
        if (o.json) print(io, JSON.stringify({ snapshot: v.snapshot, ok, problems: v.problems, resticErrors: v.resticErrors }));
        if (!ok) throw new CliError(verifyReport(v));
        if (!o.json) print(io, `Snapshot ${v.snapshot} OK: ${v.manifest!.blobs.count} blobs, ${v.manifest!.databases.length} databases (integrity_check ok), ${v.manifest!.files.length} files match the manifest of ${v.manifest!.createdAt}`);
      });
    });

  backup
    .command("restore")
    .description("rebuild a data folder from a snapshot (--data names the NEW folder; it must be empty or absent)")
    .requiredOption("--snapshot <id>", "snapshot id (or latest)")
    .requiredOption("--repository <repo>", "restic repository")
    .requiredOption("--password-file <file>", "file holding the repository password")
    .option("--restic <program>", "the restic program", "restic")
    .action(async function (this: Command) {
      const o = this.opts() as Required<TargetOpts> & { snapshot: string };
      const dataDir = dataDirOf(this, io);
      if (!o.passwordFile) throw new CliError("--password-file is required", EXIT_USAGE);
      const target: ResticTarget = { program: o.restic, repository: o.repository, passwordFile: path.resolve(o.passwordFile) };
      await guard(async () => {
        const p = progress();
        let r;
        try {
          r = await restoreBackup(target, { snapshot: o.snapshot, dataDir, onProgress: p.on });
        } finally {
          p.end();
        }
        print(io, `Restored snapshot ${r.snapshot} of ${r.manifest.hostname} (${r.manifest.createdAt}) into ${r.dataDir}: ${r.manifest.messages} messages, ${r.manifest.blobs.count} blobs, every one checked. Start it with: freehold serve --data ${r.dataDir}`);
      });
    });
}

/** A repository URL without credentials (rest:https://user:pass@host/ → rest:https://***@host/). */
function redact(repo: string): string {
  return repo.replace(/\/\/[^/@]*@/, "//***@");
}
