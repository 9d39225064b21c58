// The SMTP core's limits and features as the config states them, shared by every SMTP listener
// role (mx, submission, submissions) so a limit set in freehold.yaml applies to all of them
// alike; a listener may set its own recipient limit.
import type { Config, Listener } from "../config/schema.ts";
import type { SmtpLimits } from "../smtp/limits.ts";
import type { SmtpFeatureOptions } from "../smtp/server.ts";

export function smtpLimitsFromConfig(config: Config): Partial<SmtpLimits> {
  return {
    maxMessageSize: config.smtp.maxMessageBytes,
    maxRecipients: config.smtp.maxRecipients,
    recipientOvershoot: config.smtp.recipientOvershoot,
    maxErrors: config.smtp.maxErrors,
    commandTimeoutMs: config.smtp.commandTimeoutMs,
    dataTimeoutMs: config.smtp.dataTimeoutMs,
    minDataRate: config.smtp.minDataRate,
    maxBdatChunks: config.smtp.maxBdatChunks,
    textLineOctets: config.smtp.maxLineOctets,
  };
}

/** What one listener changes over smtpLimitsFromConfig (undefined: nothing). */
export function listenerLimits(l: Listener): Partial<SmtpLimits> | undefined {
  return l.maxRecipients === undefined ? undefined : { maxRecipients: l.maxRecipients };
}

export function smtpFeaturesFromConfig(config: Config): SmtpFeatureOptions {
  return { bareLineEndings: config.smtp.bareLineEndings, strictEnvelopes: config.smtp.strictEnvelopes };
}

/** The connection caps every SMTP server of the process gets (issue 13 §2). */
export function smtpConnectionLimits(config: Config): { maxConnections: number; maxConnectionsPerClient: number } {
  return { maxConnections: config.smtp.maxConnections, maxConnectionsPerClient: config.smtp.maxConnectionsPerIp };
}
