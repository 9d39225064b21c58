// RFC 9208 QUOTA: one quota root "" per user with the STORAGE resource (in KiB).
import type { ResponseChunk } from "../protocol/wire-values.ts";
import { quotaResponse, quotaRootResponse } from "../protocol/response.ts";
import { effectiveQuota } from "../../accounts/quota.ts";
import { requireMailbox } from "../mailboxes.ts";
import { no } from "../errors.ts";
import type { Session } from "../session.ts";
import type { CommandEntry } from "./types.ts";
import { AUTH } from "./types.ts";

async function quotaOf(s: Session): Promise<ResponseChunk[]> {
  const user = s.user();
  const limit = effectiveQuota(user, s.deps.defaultQuotaBytes);
  const usage = await s.deps.store.mail.userUsage(user.id);
  // RFC 9208 §5.1: with no limit there is no resource to report.
  const res = limit > 0 ? [{ name: "STORAGE", usage: Math.ceil(usage.bytes / 1024), limit: Math.floor(limit / 1024) }] : [];
  return quotaResponse(s.mode, "", res);
}

export const getquota: CommandEntry<"GETQUOTA"> = {
  states: AUTH,
  async run(s, cmd) {
    if (cmd.root !== "") throw no("No such quota root", "NONEXISTENT");
    await s.send(await quotaOf(s));
  },
};

export const getquotaroot: CommandEntry<"GETQUOTAROOT"> = {
  states: AUTH,
  async run(s, cmd) {
    const mb = await requireMailbox(s, cmd.mailbox);
    await s.send(quotaRootResponse(s.mode, mb.name, [""]));
    await s.send(await quotaOf(s));
  },
};

export const setquota: CommandEntry<"SETQUOTA"> = {
  states: AUTH,
  async run() {
    // RFC 9208 §4.1: limits are set by administrators (freehold user quota), not by users.
    throw no("Quota is set by the administrator", "NOPERM");
  },
};
