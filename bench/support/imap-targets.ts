// The two IMAP servers the imap case compares, each holding the same `count` messages
// (maildir-fill.ts's makeMessage) for one user:
// - Dovecot 2.3: the messages written straight into its Maildir (seconds, not minutes of APPEND);
// - Freehold: started through its CLI like smtp-targets.ts, the messages delivered through its
//   own mx listener (the fastest way in that exists; the same bytes plus our trace headers).
// Every session of the timed workloads uses `tls` (implicit TLS by default) on both sides; the
// IDLE memory figure always uses IMAPS.
import fs from "node:fs/promises";
import path from "node:path";
import { systemUser } from "../../test/support/peer-util.ts";
import { startDovecotBench } from "./dovecot-bench.ts";
import { fillMaildir, makeMessage } from "./maildir-fill.ts";
import { runLoad } from "./smtp-load.ts";
import { ImapConn } from "./imap-client.ts";
import { startFreehold, Unavailable } from "./freehold-server.ts";
import { selfSignedCert } from "./cert.ts";

export interface ImapTarget {
  readonly name: string;
  readonly host: string;
  /** Port of the timed sessions (IMAPS when `tls`). */
  readonly port: number;
  readonly tls: boolean;
  /** Implicit-TLS port for the IDLE memory figure. */
  readonly imapsPort: number;
  readonly user: string;
  readonly pass: string;
  /** The process whose tree holds the sessions (PSS is summed over it). */
  pid(): number;
  stop(): Promise<void>;
}

export async function startDovecotImapTarget(
  dir: string,
  p: { count: number; tls: boolean; idle: number; log: (m: string) => void },
): Promise<ImapTarget & { bytes: number }> {
  await fs.mkdir(dir, { recursive: true });
  const user = "bench";
  const slack = p.idle + 200;
  const dovecot = await startDovecotBench({
    dir: path.join(dir, "dovecot"),
    users: [user],
    domain: "bench.test",
    lmtp: false,
    imap: true,
    imaps: await selfSignedCert(dir, "imap.bench.test"),
    maxUserIpConnections: slack,
    // Room for `idle` clients: one imap and (high-security mode, Debian's default) one
    // imap-login process per TLS connection, and enough client slots in the helper services.
    extra: [`default_process_limit = ${slack}`, `default_client_limit = ${3 * slack + 1000}`],
  });
  try {
    const t0 = Date.now();
    const bytes = await fillMaildir(dovecot.maildir(user), p.count, await systemUser("mail"), (n) =>
      p.log(`dovecot maildir: ${n}/${p.count}`),
    );
    p.log(`dovecot maildir: ${p.count} messages, ${(bytes / 2 ** 20).toFixed(0)} MiB in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return {
      name: "dovecot",
      host: "127.0.0.1",
      port: p.tls ? dovecot.imapsPort : dovecot.imapPort,
      tls: p.tls,
      imapsPort: dovecot.imapsPort,
      user,
      pass: "pass",
      bytes,
      pid: () => dovecot.pid(),
      stop: () => dovecot.stop(),
    };
  } catch (err) {
    await dovecot.stop();
    throw err;
  }
}

export async function startFreeholdImapTarget(
  root: string,
  dir: string,
  p: { count: number; tls: boolean; log: (m: string) => void },
): Promise<ImapTarget> {
  const address = "bench@bench.test";
  const pass = "bench-password";
  const roles: Array<{ role: string; tls?: "none" }> = [{ role: "mx" }, { role: "imaps" }];
  if (!p.tls) roles.push({ role: "imap", tls: "none" });
  const fh = await startFreehold(root, dir, {
    hostname: "bench.test",
    domain: "bench.test",
    user: { address, password: pass },
    roles,
  });
  const mxPort = fh.ports.mx;
  const imapsPort = fh.ports.imaps;
  const imapPort = p.tls ? imapsPort : fh.ports.imap;
  const fail = async (why: string): Promise<never> => {
    await fh.stop();
    throw new Unavailable(why);
  };
  let probe: ImapConn | undefined;
  try {
    probe = await ImapConn.connect("127.0.0.1", imapsPort, { tls: true });
    await probe.ok(`LOGIN ${address} ${pass}`);
  } catch (err) {
    probe?.close();
    return fail(`\`freehold serve\` has no working imaps listener yet: ${(err as Error).message}`);
  }

  // Seed through SMTP: the same messages, 10 senders, connections reused.
  const t0 = Date.now();
  const load = await runLoad({
    host: "127.0.0.1",
    port: mxPort,
    messages: p.count,
    connections: 10,
    reuse: true,
    messageBytes: 0,
    from: "seed@example.org",
    rcpt: () => address,
    message: (i) => makeMessage(i).replace(/\n/g, "\r\n"),
    deadlineMs: 3_600_000,
  });
  if (load.acked !== p.count) {
    probe.close();
    return fail(`seeding over SMTP: ${load.acked}/${p.count} accepted (${load.errorSamples.join(" | ")})`);
  }
  p.log(`freehold: ${p.count} messages delivered over SMTP in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  // A third \Seen, like the Maildir (which messages differs: delivery order is parallel).
  await probe.ok("SELECT INBOX");
  const seen: number[] = [];
  for (let n = 1; n <= p.count; n += 3) seen.push(n);
  for (let i = 0; i < seen.length; i += 500) {
    await probe.ok(`STORE ${seen.slice(i, i + 500).join(",")} +FLAGS.SILENT (\\Seen)`);
  }
  await probe.logout();
  return {
    name: "freehold",
    host: "127.0.0.1",
    port: imapPort,
    tls: p.tls,
    imapsPort,
    user: address,
    pass,
    pid: () => fh.server.targetPid(),
    stop: () => fh.stop(),
  };
}
