// The SMTP core's limits as the config states them, shared by every SMTP listener role (mx,
// submission, submissions) so a limit set in freehold.yaml applies to all of them alike.
import type { Config } from "../config/schema.ts";
import type { SmtpLimits } from "../smtp/limits.ts";

export function smtpLimitsFromConfig(config: Config): Partial<SmtpLimits> {
  return {
    maxMessageSize: config.smtp.maxMessageBytes,
    maxRecipients: config.smtp.maxRecipients,
    maxErrors: config.smtp.maxErrors,
    commandTimeoutMs: config.smtp.commandTimeoutMs,
  };
}
