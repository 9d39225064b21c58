// DNS timeouts and SERVFAIL while mail arrives on mx: the DNS server drops every question (a
// timeout) or answers SERVFAIL. Each delivery must end in a reply that is a temporary failure
// (4xx) or 250 with the failed checks recorded as temperror — never a 5xx rejection, never a
// "pass" that was not established. The session is not dropped, the server stays up, and once
// DNS answers again (NXDOMAIN: a definite answer) results are real ("none"), not stale errors.
import type { SoakCase, SoakRow } from "../../support/case.ts";
import { row } from "../../support/case.ts";
import { mailboxContents, openDataDir } from "../../../test/support/freehold.ts";
import { AREA, USER, smtpSend, startRig } from "./common.ts";

export const dnsCase: SoakCase = {
  area: AREA,
  name: "DNS timeouts and SERVFAIL",
  async run(ctx) {
    const n = ctx.mode === "long" ? 20 : 3;
    const rig = await startRig();
    const rows: SoakRow[] = [];
    try {
      for (const kind of ["timeout", "SERVFAIL"] as const) {
        rig.dns.setHandler(() => (kind === "timeout" ? { kind: "drop" } : { kind: "rcode", rcode: "SERVFAIL" }));
        const tally = { tempfail: 0, acceptedTemperror: 0, rejected: 0, passed: 0, other: 0 };
        const problems: string[] = [];
        const tokens: string[] = [];
        const started = Date.now();
        await Promise.all(
          Array.from({ length: n }, async (_, i) => {
            const tok = `dns-${kind}-${i}-${Math.random().toString(36).slice(2, 6)}`;
            const r = await smtpSend(rig.fh.mxPort, tok, 500).catch((e: Error) => ({ code: 0, text: e.message }));
            if (r.code >= 400 && r.code < 500) tally.tempfail++;
            else if (r.code === 250) tokens.push(tok);
            else if (r.code >= 500) {
              tally.rejected++;
              problems.push(`${tok}: ${r.code} ${r.text}`);
            } else {
              tally.other++;
              problems.push(`${tok}: ${r.text}`);
            }
          }),
        );
        const seconds = (Date.now() - started) / 1000;
        // What the accepted copies say about authentication.
        const db = await openDataDir(rig.data.dir);
        try {
          for (const copy of await mailboxContents(db, USER)) {
            const text = Buffer.concat([Buffer.from(copy.message.traceHeaders), copy.blob]).toString("latin1");
            const tok = /^X-Token: (\S+)/m.exec(text)?.[1];
            if (!tok || !tokens.includes(tok)) continue;
            const ar = /^Authentication-Results:[^\r\n]*(\r\n[ \t][^\r\n]*)*/im.exec(text)?.[0] ?? "";
            if (/\b(spf|dmarc|dkim)=pass\b/i.test(ar)) {
              tally.passed++;
              problems.push(`${tok} recorded a pass: ${ar.replace(/\s+/g, " ")}`);
            } else if (/\bspf=temperror\b/i.test(ar)) tally.acceptedTemperror++;
            else problems.push(`${tok} accepted without temperror: ${ar.replace(/\s+/g, " ").slice(0, 160)}`);
          }
        } finally {
          await db.close();
        }
        if (rig.fh.child.exitCode !== null) problems.push("server exited");
        rows.push(
          row(AREA, `DNS ${kind} at mx: tempfail, never pass or reject`, n, `4xx ${tally.tempfail}, 250+temperror ${tally.acceptedTemperror}, 5xx ${tally.rejected}, pass ${tally.passed} (${seconds.toFixed(1)} s)`, problems.length === 0 && tally.tempfail + tally.acceptedTemperror === n, problems.slice(0, 2).join("; ") || undefined),
        );
      }
      // DNS answers again: real results, no leftover errors.
      rig.dns.setHandler(() => ({ kind: "rcode", rcode: "NXDOMAIN" }));
      const tok = `dns-back-${Math.random().toString(36).slice(2, 6)}`;
      const r = await smtpSend(rig.fh.mxPort, tok, 500);
      const db = await openDataDir(rig.data.dir);
      let ar = "";
      try {
        const copy = (await mailboxContents(db, USER)).find((c) => c.blob.toString("latin1").includes(tok));
        ar = copy ? /^Authentication-Results:[^\r\n]*(\r\n[ \t][^\r\n]*)*/im.exec(copy.message.traceHeaders)?.[0] ?? "" : "";
      } finally {
        await db.close();
      }
      rows.push(row(AREA, "DNS back: fresh results", 1, `${r.code}, ${/spf=\w+/.exec(ar)?.[0] ?? "no spf result"}`, r.code === 250 && /spf=none/.test(ar), r.code === 250 ? undefined : r.text));
    } finally {
      await rig.close();
    }
    return rows;
  },
};
