// Quota at delivery. A message that would take a user past their quota is refused for that
// recipient with 452 4.2.2 (RFC 3463 X.2.2 "mailbox full"; 4xx because the user may free space
// and the sender's retry then succeeds, as Postfix and Dovecot answer). Other recipients of
// the same message are unaffected. A quota of 0 means unlimited.
import type { MailRepo, UserRecord } from "../store/types.ts";

export type QuotaVerdict =
  | { ok: true }
  | { ok: false; usedBytes: number; quotaBytes: number; messageBytes: number };

/** The quota that applies to a user: their own, or the server default (0 = unlimited). */
export function effectiveQuota(user: Pick<UserRecord, "quotaBytes">, defaultBytes: number): number {
  return user.quotaBytes ?? defaultBytes;
}

/** Pure check: would `messageBytes` more exceed the quota? Exactly filling it is allowed. */
export function checkQuota(usedBytes: number, quotaBytes: number, messageBytes: number): QuotaVerdict {
  if (quotaBytes <= 0) return { ok: true };
  if (usedBytes + messageBytes > quotaBytes) return { ok: false, usedBytes, quotaBytes, messageBytes };
  return { ok: true };
}

/** Check a user's stored usage (a counter the store keeps) against their quota. */
export async function checkUserQuota(
  mail: Pick<MailRepo, "userUsage">,
  user: Pick<UserRecord, "id" | "quotaBytes">,
  messageBytes: number,
  defaultBytes: number,
): Promise<QuotaVerdict> {
  const quota = effectiveQuota(user, defaultBytes);
  if (quota <= 0) return { ok: true };
  const usage = await mail.userUsage(user.id);
  return checkQuota(usage.bytes, quota, messageBytes);
}

/** SMTP reply for an over-quota recipient. */
export const OVER_QUOTA_REPLY = { code: 452, enhanced: "4.2.2", text: "Mailbox full" } as const;
