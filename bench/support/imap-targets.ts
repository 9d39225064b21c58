// The two IMAP servers the imap case compares, each holding the same `count` messages
// (maildir-fill.ts's makeMessage) for one user:
// - Dovecot 2.3: the messages written straight into its Maildir (seconds, not minutes of APPEND);
// - Freehold: set up through its CLI like smtp-targets.ts, the messages written straight into its
//   store before `serve` starts (imap-fill-freehold.ts: the store's own delivery writer).
// Every session of the timed workloads uses `tls` (implicit TLS by default) on both sides; the
// IDLE memory figure always uses IMAPS.
import fs from "node:fs/promises";
import path from "node:path";
import { run, systemUser } from "../../test/support/peer-util.ts";
import { startDovecotBench } from "./dovecot-bench.ts";
import { fillMaildir } from "./maildir-fill.ts";
import { fillFreehold } from "./imap-fill-freehold.ts";
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
  /** Cleartext port (Freehold: STARTTLS, and LOGIN in clear where it allows it on loopback). */
  readonly plainPort: number;
  readonly user: string;
  readonly pass: string;
  /** The process whose tree holds the sessions (PSS is summed over it). */
  pid(): number;
  /**
   * Before the memory baseline: bring the server to rest. Freehold restarts (a fresh process:
   * a heap grown by the earlier workloads would absorb the sessions in pages already counted);
   * Dovecot's sessions are processes that exit with them, so it is at rest already.
   */
  atRest?(): Promise<void>;
  stop(): Promise<void>;
}

export async function startDovecotImapTarget(
  dir: string,
  p: { count: number; tls: boolean; idle: number; log: (m: string) => void; maxConnections?: number },
): Promise<ImapTarget & { bytes: number; hashPassword(scheme: string): Promise<void> }> {
  await fs.mkdir(dir, { recursive: true });
  const user = "bench";
  const slack = Math.max(p.idle + 200, p.maxConnections ?? 0);
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
      plainPort: dovecot.imapPort,
      user,
      pass: "pass",
      bytes,
      /** Stores the user's password with this scheme from now on (passwd-file is re-read when it changes). */
      async hashPassword(scheme) {
        const r = await run("doveadm", ["pw", "-s", scheme, "-p", "pass"], { timeoutMs: 30_000 });
        if (r.code !== 0) throw new Error(`doveadm pw -s ${scheme}: ${r.stderr.trim()}`);
        const file = path.join(dovecot.dir, "users");
        await fs.writeFile(`${file}.new`, `${user}:${r.stdout.trim()}\n`, { mode: 0o644 });
        await fs.rename(`${file}.new`, file);
      },
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
  p: { count: number; tls: boolean; idle: number; loginCache: boolean; log: (m: string) => void; maxConnections?: number },
): Promise<ImapTarget & { bytes: number }> {
  // As Dovecot's: room for the IDLE clients and the workloads (the default is 50 per user).
  const slack = Math.max(p.idle + 200, p.maxConnections ?? 0);
  const address = "bench@bench.test";
  const pass = "bench-password";
  // The imap (STARTTLS) listener first: startFreehold waits for the first role's greeting in clear.
  const roles: Array<{ role: string; tls?: "starttls" }> = [{ role: "imap", tls: "starttls" }, { role: "imaps" }];
  let bytes = 0;
  const fh = await startFreehold(root, dir, {
    hostname: "bench.test",
    domain: "bench.test",
    user: { address, password: pass },
    roles,
    configSet: [
      [["imap", "maxConnectionsPerUser"], slack],
      [["imap", "maxConnectionsPerIp"], slack],
      // LOGIN in clear on loopback, as Dovecot allows it, where this build has the switch.
      ...(await plaintextSwitchKnown(root) ? [[["imap", "allowPlaintextOnLoopback"], true] as [string[], unknown]] : []),
      ...(p.loginCache ? [] : [[["login", "cacheSeconds"], 0] as [string[], unknown]]),
    ],
    // The same messages, written straight into the store like Dovecot's Maildir.
    beforeServe: async (data) => {
      const t0 = Date.now();
      bytes = await fillFreehold(data, address, p.count, (n) => p.log(`freehold store: ${n}/${p.count}`));
      p.log(`freehold store: ${p.count} messages, ${(bytes / 2 ** 20).toFixed(0)} MiB in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    },
  });
  const imapsPort = fh.ports.imaps;
  // Always IMAPS: Freehold refuses LOGIN without TLS (LOGINDISABLED, RFC 9051 §6.2.3) and has
  // no switch for it, so BENCH_IMAP_TLS=0 applies to Dovecot only.
  let probe: ImapConn | undefined;
  try {
    probe = await ImapConn.connect("127.0.0.1", imapsPort, { tls: true });
    await probe.ok(`LOGIN ${address} ${pass}`);
    await probe.logout();
  } catch (err) {
    probe?.close();
    await fh.stop();
    throw new Unavailable(`\`freehold serve\` has no working imaps listener: ${(err as Error).message}`);
  }
  return {
    name: "freehold",
    host: "127.0.0.1",
    port: imapsPort,
    tls: true,
    imapsPort,
    plainPort: fh.ports.imap,
    user: address,
    pass,
    bytes,
    pid: () => fh.server.targetPid(),
    atRest: () => fh.restart(),
    stop: () => fh.stop(),
  };
}

/** Whether this build's config schema has `imap.allowPlaintextOnLoopback` (being added). */
async function plaintextSwitchKnown(root: string): Promise<boolean> {
  const schema = await fs.readFile(path.join(root, "src", "config", "schema.ts"), "utf8").catch(() => "");
  return schema.includes("allowPlaintextOnLoopback");
}
