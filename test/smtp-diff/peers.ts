// The two servers of the differential and what each stored.
//  - Postfix (Debian's 3.7.11, test/support/postfix.ts) with smtpd_forbid_bare_newline =
//    normalize and no exclusions (its default exempts $mynetworks, loopback included), taking
//    freehold.test as a virtual domain into one Maildir (virtual(8)); no header rewriting
//    (local_header_rewrite_clients empty: an mx does not rewrite a stranger's headers).
//  - Freehold's mx in this process, domain freehold.test with one user (the admin, so postmaster
//    reaches it) and a catch-all alias to it, DNS at a fault server answering NXDOMAIN (no SPF/DKIM record anywhere).
// stored() returns the messages that arrived since the last call, normalised so the two can be
// compared: what the receiving server prepends is removed (Postfix: Return-Path, X-Original-To, Delivered-To
// and its Received field; Freehold keeps those outside the blob) and line ends are LF (Postfix's
// Maildir writes LF; Freehold's blob keeps CRLF).
import { mkdir, readdir, readFile, chown, rm } from "node:fs/promises";
import path from "node:path";
import { startPostfix } from "../support/postfix.ts";
import type { PostfixInstance } from "../support/postfix.ts";
import { systemUser, makePeerDir } from "../support/peer-util.ts";
import { createDataDir, mailboxContents, openDataDir, startFreeholdInProcess } from "../support/freehold.ts";
import type { DataDir, InProcessFreehold } from "../support/freehold.ts";
import { startFaultServer } from "../support/dns-fault.ts";
import type { FaultServer } from "../support/dns-fault.ts";

export const DOMAIN = "freehold.test";
export const MAILBOX_USER = `inbox@${DOMAIN}`;

export interface DiffPeer {
  readonly name: "postfix" | "freehold";
  readonly port: number;
  /** Messages stored since the previous call, normalised (see above), sorted by content (a
   * Maildir does not keep the order of arrival). */
  stored(): Promise<Buffer[]>;
  stop(): Promise<void>;
}

/** Drops the fields a receiving Postfix prepends: Return-Path, Delivered-To, its Received. */
export function stripPostfixTrace(file: Buffer): Buffer {
  let pos = 0;
  let receivedSeen = false;
  for (;;) {
    const nl = file.indexOf(0x0a, pos);
    if (nl < 0) break;
    const line = file.subarray(pos, nl).toString("latin1");
    const m = /^([A-Za-z-]+):/.exec(line);
    const name = m?.[1]?.toLowerCase();
    if (name === "return-path" || name === "x-original-to" || name === "delivered-to" || (name === "received" && !receivedSeen)) {
      if (name === "received") receivedSeen = true;
      // The field and its continuation lines.
      let end = nl + 1;
      while (end < file.length && (file[end] === 0x20 || file[end] === 0x09)) {
        const n2 = file.indexOf(0x0a, end);
        end = n2 < 0 ? file.length : n2 + 1;
      }
      pos = end;
      if (name === "received") break;
      continue;
    }
    break;
  }
  return file.subarray(pos);
}

/** CRLF → LF (a lone LF or CR is left as it is). */
export function crlfToLf(b: Buffer): Buffer {
  return Buffer.from(b.toString("latin1").replaceAll("\r\n", "\n"), "latin1");
}

export async function startPostfixPeer(): Promise<DiffPeer & { instance: PostfixInstance }> {
  const base = await makePeerDir("postfix-maildir");
  const nobody = await systemUser("nobody");
  await mkdir(path.join(base, "all"), { recursive: true });
  await chown(base, nobody.uid, nobody.gid);
  await chown(path.join(base, "all"), nobody.uid, nobody.gid);
  const pf = await startPostfix({
    hostname: "mx.postfix.test",
    // An mx: loopback is a stranger here too (else permit_mynetworks lets it relay).
    mynetworks: [],
    main: {
      smtpd_forbid_bare_newline: "normalize",
      smtpd_forbid_bare_newline_exclusions: "",
      virtual_mailbox_domains: DOMAIN,
      virtual_mailbox_base: base,
      virtual_mailbox_maps: "static:all/",
      // Every recipient becomes the one mailbox address in the envelope only (headers as sent);
      // cleanup then drops the duplicates, so a message is one Maildir file, as Freehold keeps one
      // copy per mailbox and transaction.
      recipient_canonical_maps: `static:${MAILBOX_USER}`,
      recipient_canonical_classes: "envelope_recipient",
      // Else the duplicates differ by their original recipient and are all kept.
      enable_original_recipient: "no",
      virtual_uid_maps: `static:${nobody.uid}`,
      virtual_gid_maps: `static:${nobody.gid}`,
      virtual_minimum_uid: "1",
      virtual_mailbox_limit: "0",
      virtual_transport: "virtual",
      local_header_rewrite_clients: "",
      // Errors beyond smtpd_soft_error_limit (10) would each wait a second before the reply:
      // only timing, and the error-limit session would take 15 s.
      smtpd_error_sleep_time: "0s",
      // One line per reply and per delivery in the log, for diagnostics.
      smtpd_log_access_permit_actions: "",
    },
  });
  const seen = new Set<string>();
  const newDir = path.join(base, "all", "new");
  return {
    name: "postfix",
    port: pf.port,
    instance: pf,
    async stored() {
      if (!(await pf.waitQueueEmpty(30_000))) throw new Error(`postfix queue did not drain:\n${(await pf.log()).slice(-3000)}`);
      const names = (await readdir(newDir).catch(() => [] as string[])).filter((n) => !seen.has(n)).sort();
      const out: Buffer[] = [];
      for (const n of names) {
        seen.add(n);
        out.push(stripPostfixTrace(await readFile(path.join(newDir, n))));
      }
      return out.sort(Buffer.compare);
    },
    async stop() {
      await pf.stop();
      await rm(base, { recursive: true, force: true });
    },
  };
}

export async function startFreeholdPeer(config: Record<string, unknown> = {}): Promise<DiffPeer & { data: DataDir; fh: InProcessFreehold; dns: FaultServer }> {
  const dns = await startFaultServer(() => ({ kind: "rcode", rcode: "NXDOMAIN" }));
  const data = await createDataDir({
    // The admin: its domain and user, and postmaster@ and abuse@ reach it (RFC 5321 §4.5.1).
    admin: MAILBOX_USER,
    aliases: [{ address: `@${DOMAIN}`, targets: [MAILBOX_USER] }],
    dnsServers: [dns.address],
    config,
  });
  const fh = await startFreeholdInProcess(data);
  let seen = 0;
  return {
    name: "freehold",
    port: fh.mxPort,
    data,
    fh,
    dns,
    async stored() {
      const db = await openDataDir(data.dir);
      try {
        const all = await mailboxContents(db, MAILBOX_USER);
        const fresh = all.slice(seen);
        seen = all.length;
        return fresh.map((m) => crlfToLf(m.blob)).sort(Buffer.compare);
      } finally {
        await db.close();
      }
    },
    async stop() {
      await fh.stop();
      await dns.close();
      await data.remove();
    },
  };
}
