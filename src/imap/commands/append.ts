// RFC 9051 §6.3.12 APPEND with RFC 4315 APPENDUID and RFC 3502 MULTIAPPEND syntax (each message
// committed on its own). Message data never sits whole in memory: large literals are streamed
// by the connection into a temporary blob as they arrive (Session.streamData) and committed
// through the DeliveryWriter, the same durable path as SMTP delivery.
import type { BlobWriter, StagedBlob } from "../../store/types.ts";
import { effectiveQuota } from "../../accounts/quota.ts";
import { requireTarget } from "../mailboxes.ts";
import { ImapError, no } from "../errors.ts";
import type { Session } from "../session.ts";
import type { CommandEntry } from "./types.ts";
import { AUTH } from "./types.ts";

async function stage(s: Session, data: { kind: "inline"; bytes: Buffer } | { kind: "stream"; id: number }): Promise<StagedBlob> {
  let w: BlobWriter;
  if (data.kind === "inline") {
    w = s.deps.blobs.create();
    await w.write(data.bytes);
  } else {
    const st = s.takeStream(data.id);
    if (!st) throw new ImapError("NO", "Message data lost", { code: "SERVERBUG" }, false);
    w = st;
  }
  return w.finish();
}

export const append: CommandEntry<"APPEND"> = {
  states: AUTH,
  async run(s, cmd) {
    let target;
    try {
      target = await requireTarget(s, cmd.mailbox);
    } catch (e) {
      s.abortStreams();
      throw e;
    }
    const user = s.user();
    const quota = effectiveQuota(user, s.deps.defaultQuotaBytes);
    const uids: number[] = [];
    let uidValidity = target.uidValidity;
    for (const m of cmd.messages) {
      // RFC 6855 §4: the UTF8 (~{n}) form only once UTF8=ACCEPT is enabled.
      if (m.utf8 && !s.mode.utf8) throw new ImapError("BAD", "Enable UTF8=ACCEPT first");
      if (m.data.kind === "inline" && m.data.bytes.length === 0) throw no("Empty message");
      const blob = await stage(s, m.data);
      const flags = m.flags.filter((f) => f.toLowerCase() !== "\\recent");
      const r = await s.deps.writer.deliver({
        blob,
        targets: [{ mailboxId: target.id, traceHeaders: "", flags, internalDate: m.date?.time ?? s.deps.clock.now(), quotaBytes: quota > 0 ? quota : null }],
        queue: [],
      });
      uids.push(r.delivered[0].uid);
      uidValidity = target.uidValidity;
    }
    s.publish(target.id);
    // RFC 4315 §3: APPENDUID uidvalidity uid-set.
    return { text: "APPEND completed", code: { code: "APPENDUID", uidValidity, uids } };
  },
};
