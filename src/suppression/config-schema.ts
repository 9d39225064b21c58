// The `suppression` section (docs/operations.md "Suppression").
import { z } from "zod";

const int = (min: number, max: number) => {
  const error = `expected a number from ${min} to ${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};

export const SuppressionSchema = z
  .strictObject({
    enabled: z.boolean({ error: "expected true or false" }).default(true).meta({
      description: "Refuse new submissions to addresses that hard-bounced (5.1.1 and the like) for the sending domain.",
    }),
    hardBounces: int(1, 100).default(2).meta({ description: "Hard bounces (per sending domain and recipient) before the recipient is suppressed." }),
    days: int(1, 3650).default(180).meta({ description: "How long a suppression lasts, in days (a new bounce starts it again)." }),
    complaintsAddress: z.string().optional().meta({
      description: "A local mailbox that receives feedback-loop reports (ARF, RFC 5965), e.g. fbl@example.com: each complaint suppresses the complainer for the sending domain and counts toward its complaint rate.",
    }),
    complaintRateWarn: z.number({ error: "expected a fraction such as 0.003" }).min(0).max(1).default(0.003).meta({
      description: "Complaint rate (complaints / messages sent, 30 days) above which a domain is reported (Gmail's bulk-sender guideline keeps it under 0.3%).",
    }),
    complaintRateFail: z.number({ error: "expected a fraction such as 0.01" }).min(0).max(1).default(0.01).meta({
      description: "Complaint rate at which the domain-health check fails (the watcher alerts on warn and on fail).",
    }),
    complaintWindowDays: int(1, 365).default(30).meta({ description: "The window, in days, of the complaint rate (complaints / messages sent)." }),
    complaintMinSent: int(1, 1_000_000).default(100).meta({ description: "Messages a domain must have sent in the window before its complaint rate is judged." }),
  })
  .prefault({})
  .meta({ description: "Suppression of recipients that hard-bounced (docs/operations.md)." });

export type SuppressionConfig = z.output<typeof SuppressionSchema>;
