// The `retention` section of the configuration (docs/operations.md "Retention"). Messages in
// Junk and Trash are expunged after a number of days counted from when they were saved into
// that mailbox; any other mailbox may get a limit by name. 0 keeps messages for ever.
import { z } from "zod";

const days = () => {
  const error = "expected a number of days from 0 (keep for ever) to 36500";
  return z.number({ error }).int({ error }).min(0, { error }).max(36_500, { error });
};

const LimitsSchema = z.strictObject({
  junkDays: days().optional().meta({ description: "Days a message stays in Junk (\\Junk special use or a Junk/Spam folder)." }),
  trashDays: days().optional().meta({ description: "Days a message stays in Trash (\\Trash special use or a Trash/Deleted folder)." }),
  mailboxes: z.record(z.string(), days()).optional().meta({ description: "Days per mailbox name, e.g. { Newsletters: 90 }." }),
});

export const RetentionSchema = z
  .strictObject({
    junkDays: days().default(30).meta({ description: "Days a message stays in Junk before it is expunged; 0 keeps it." }),
    trashDays: days().default(30).meta({ description: "Days a message stays in Trash before it is expunged; 0 keeps it." }),
    mailboxes: z.record(z.string(), days()).default({}).meta({
      description: "Days per mailbox name for every user, e.g. { Newsletters: 90 }; names compare case-insensitively.",
    }),
    domains: z.record(z.string(), LimitsSchema).default({}).meta({
      description: "Overrides per domain, e.g. { example.com: { trashDays: 7 } }.",
    }),
    users: z.record(z.string(), LimitsSchema).default({}).meta({
      description: "Overrides per address (over the domain's), e.g. { ceo@example.com: { trashDays: 0 } }.",
    }),
    auditDays: days().default(730).meta({
      description: "Days audit-log entries are kept; older whole entries are deleted by the retention job, which audits that it did. 0 keeps them for ever.",
    }),
    complaintsDays: days().default(400).meta({
      description: "Days feedback-loop complaints and the daily sent counts behind the complaint rate are kept (suppression.sqlite). 0 keeps them for ever.",
    }),
    intervalMinutes: z
      .number({ error: "expected minutes from 1 to 10080" })
      .int()
      .min(1, { error: "expected minutes from 1 to 10080" })
      .max(10_080, { error: "expected minutes from 1 to 10080" })
      .default(60)
      .meta({ description: "How often `serve` runs the retention job." }),
  })
  .prefault({})
  .meta({ description: "Automatic expunge of old messages in Junk, Trash and named mailboxes (docs/operations.md)." });

export type RetentionConfig = z.output<typeof RetentionSchema>;
