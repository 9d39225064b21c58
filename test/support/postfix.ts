// A standalone Postfix (Debian's, 3.7) for integration tests and benchmarks: its own config,
// queue and data dirs under a temp dir, listening on one loopback address and port, run in the
// foreground as our child (master -s) so it stops with us. Settings follow the reference in
// ../shared/peers; nothing can leave the machine: default and relay transports are "error"
// unless a test routes a domain explicitly.
//
// Several instances can run at once: each has its own config_directory, queue_directory,
// data_directory (master.lock), syslog_name and maillog_file; no multi_instance setup and no
// /etc/postfix/main.cf involved. Needs root (master drops to the postfix user itself).
import fs from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import {
  countFilesDeep,
  freePort,
  makePeerDir,
  spawnManaged,
  systemGroup,
  systemUser,
  waitForGreeting,
  waitUntil,
  type ManagedChild,
} from "./peer-util.ts";
import { startDovecotAuth, type DovecotAuth } from "./postfix-sasl.ts";

const MASTER = "/usr/lib/postfix/sbin/master";

export interface PostfixOptions {
  /** Listen address for smtpd (default 127.0.0.1); any 127.x.y.z works on Linux. */
  host?: string;
  /** Listen port (default: a free port). Port 25 is fine: we run as root. */
  port?: number;
  /** myhostname (greeting, Received). Default mx.postfix.test. */
  hostname?: string;
  /** Domains delivered over LMTP to `lmtp` (virtual_mailbox_domains + virtual_transport). */
  virtualDomains?: string[];
  /** LMTP target for virtualDomains, e.g. a Dovecot LMTP listener. */
  lmtp?: { host: string; port: number };
  /** Domains accepted for relaying (relay_domains); route them with `transports`. */
  relayDomains?: string[];
  /** transport_maps entries: domain → transport, e.g. { "sink.test": "smtp:[127.0.0.1]:2526" }
   * or { "example.test": "discard:" }. */
  transports?: Record<string, string>;
  /** Send everything not otherwise routed here (relayhost), e.g. "[127.0.0.1]:2525". */
  relayhost?: string;
  /** Networks allowed to relay without AUTH (default 127.0.0.0/8; [] with `auth`). */
  mynetworks?: string[];
  /** STARTTLS for smtpd (level "may", or "encrypt" with `auth`) with this certificate. */
  tls?: { certFile: string; keyFile: string };
  /** SMTP AUTH (PLAIN, LOGIN) for these users through an auth-only Dovecot; only after
   * STARTTLS (smtpd_tls_auth_only), so `tls` is required. Authenticated clients may relay. */
  auth?: { users: Record<string, string> };
  /** Postfix's own SMTP client towards relayhost/transports: TLS level and SASL login. */
  client?: { tlsLevel?: "none" | "may" | "encrypt"; username?: string; password?: string };
  /** Extra main.cf settings, applied last. */
  main?: Record<string, string>;
  /** State dir to use (default: a new temp dir, removed on stop). */
  dir?: string;
  /** Run master under this command prefix (benchmarks: strace counting fsyncs). */
  wrap?: string[];
}

export interface PostfixInstance {
  readonly host: string;
  readonly port: number;
  /** Root of this instance's files (etc/, queue/, data/, maillog). */
  readonly dir: string;
  readonly configDir: string;
  readonly queueDir: string;
  readonly logPath: string;
  /** PID of the master process (children are its descendants). */
  readonly pid: number;
  /** The log so far (postlogd writes it shortly after the event). */
  log(): Promise<string>;
  /** Messages still in the queue (incoming, active, deferred, hold, maildrop). */
  queueSize(): Promise<number>;
  /** Waits until the queue is empty; false on timeout. */
  waitQueueEmpty(timeoutMs?: number): Promise<boolean>;
  /** Stops master and its children; removes the state dir unless `keep`. Safe to call twice. */
  stop(opts?: { keep?: boolean }): Promise<void>;
}

const QUEUE_DIRS = ["incoming", "active", "deferred", "hold", "maildrop"];

function inlineMap(entries: Record<string, string>): string {
  // inline: maps need no postmap; values must not contain "," or "}" unquoted.
  const items = Object.entries(entries).map(([k, v]) => {
    if (/[{},\s]/.test(k) || /[{},]/.test(v)) throw new Error(`cannot inline map entry ${k}=${v}`);
    return `${k}=${v}`;
  });
  return items.length === 0 ? "" : `inline:{ ${items.join(", ")} }`;
}

export function renderMainCf(
  o: PostfixOptions & { host: string; stateDir: string; syslogName: string; saslPath?: string },
): string {
  const s = o.stateDir;
  const mynetworks = o.mynetworks ?? (o.auth ? [] : ["127.0.0.0/8"]);
  const settings: Record<string, string> = {
    compatibility_level: "3.6",
    queue_directory: `${s}/queue`,
    data_directory: `${s}/data`,
    mail_owner: "postfix",
    setgid_group: "postdrop",
    maillog_file_prefixes: s,
    maillog_file: `${s}/maillog`,
    syslog_name: o.syslogName,
    myhostname: o.hostname ?? "mx.postfix.test",
    mydomain: "postfix.test",
    myorigin: "$mydomain",
    mydestination: "",
    // Postfix accepts only addresses configured on an interface here; lo carries 127.0.0.1 only
    // (127.0.0.2 answers through the /8 route), so another 127.x address is declared a proxy
    // interface (still "this machine" for loop detection) and bound through master.cf.
    inet_interfaces: o.host.includes(":") ? o.host : "127.0.0.1",
    proxy_interfaces: o.host.includes(":") || o.host === "127.0.0.1" ? "" : o.host,
    inet_protocols: o.host.includes(":") ? "ipv6" : "ipv4",
    smtp_bind_address: o.host.includes(":") ? "" : o.host,
    lmtp_bind_address: o.host.includes(":") ? "" : o.host,
    mynetworks: mynetworks.join(" "),
    biff: "no",
    alias_maps: "",
    alias_database: "",
    append_dot_mydomain: "no",
    readme_directory: "no",
    smtputf8_enable: "yes",
    message_size_limit: "52428800",
    // Loopback only: names come from /etc/hosts, never from DNS.
    smtp_host_lookup: "native",
    lmtp_host_lookup: "native",
    smtp_dns_support_level: "disabled",
    relay_domains: (o.relayDomains ?? []).join(" "),
    transport_maps: inlineMap(o.transports ?? {}),
    relayhost: o.relayhost ?? "",
    relay_transport: "error:test postfix: relay disabled",
    default_transport: o.relayhost ? "smtp" : "error:test postfix: outbound delivery disabled",
    smtpd_relay_restrictions: o.auth
      ? "permit_sasl_authenticated, reject_unauth_destination"
      : "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
    smtpd_recipient_restrictions: "",
    // Tests send bursts from one IP; anvil limits would only add noise.
    smtpd_client_connection_count_limit: "0",
    smtpd_client_connection_rate_limit: "0",
  };
  if (o.virtualDomains?.length) {
    if (!o.lmtp) throw new Error("virtualDomains need an lmtp target");
    // virtual_mailbox_maps stays empty: any localpart is accepted and the LMTP server rejects
    // unknown users, as in ../shared/peers.
    settings.virtual_mailbox_domains = o.virtualDomains.join(" ");
    settings.virtual_transport = `lmtp:inet:${o.lmtp.host}:${o.lmtp.port}`;
  }
  if (o.tls) {
    settings.smtpd_tls_cert_file = o.tls.certFile;
    settings.smtpd_tls_key_file = o.tls.keyFile;
    settings.smtpd_tls_security_level = o.auth ? "encrypt" : "may";
    settings.smtpd_tls_loglevel = "1";
    settings.smtpd_tls_received_header = "yes";
  }
  if (o.auth) {
    if (!o.tls) throw new Error("auth needs tls (AUTH only after STARTTLS)");
    settings.smtpd_sasl_auth_enable = "yes";
    settings.smtpd_sasl_type = "dovecot";
    settings.smtpd_sasl_path = o.saslPath ?? "";
    settings.smtpd_tls_auth_only = "yes";
    settings.broken_sasl_auth_clients = "no";
  }
  const c = o.client;
  if (c) {
    settings.smtp_tls_security_level = c.tlsLevel ?? "may";
    if (c.username !== undefined) {
      settings.smtp_sasl_auth_enable = "yes";
      // static: the same login for every next hop (relayhost or a transport's target).
      settings.smtp_sasl_password_maps = `static:{${c.username}:${c.password ?? ""}}`;
      settings.smtp_sasl_security_options = "noanonymous";
      settings.smtp_sasl_tls_security_options = "noanonymous";
    }
  }
  Object.assign(settings, o.main ?? {});
  return Object.entries(settings)
    .map(([k, v]) => `${k} = ${v}\n`)
    .join("");
}

export function renderMasterCf(host: string, port: number): string {
  const listen = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  // Debian's master.cf with chroot off and the smtpd listener on our address.
  return `${listen} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`;
}

/** Creates the queue tree as Debian's post-install would (owners and modes from postfix-files),
 * without spawning `postfix check`, which takes seconds on a busy machine. */
async function createQueueTree(stateDir: string): Promise<void> {
  const pf = await systemUser("postfix");
  const postdrop = await systemGroup("postdrop");
  const q = path.join(stateDir, "queue");
  await fs.mkdir(q, { mode: 0o755 });
  const priv = ["active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming", "private", "saved", "trace"];
  for (const d of priv) {
    const p = path.join(q, d);
    await fs.mkdir(p, { mode: 0o700 });
    await fs.chown(p, pf.uid, 0);
  }
  for (const [d, mode] of [
    ["maildrop", 0o730],
    ["public", 0o710],
  ] as const) {
    const p = path.join(q, d);
    await fs.mkdir(p);
    await fs.chmod(p, mode);
    await fs.chown(p, pf.uid, postdrop);
  }
  await fs.mkdir(path.join(q, "pid"), { mode: 0o755 });
  const data = path.join(stateDir, "data");
  await fs.mkdir(data, { mode: 0o700 });
  await fs.chown(data, pf.uid, pf.gid);
}

/** Why the test Postfix cannot run here, or undefined when it can. */
export function postfixUnavailable(): string | undefined {
  if (!existsSync(MASTER)) return `${MASTER} missing (scripts/install-peers.sh installs postfix)`;
  if (process.getuid?.() !== 0) return "the test Postfix needs root";
  return undefined;
}

export async function startPostfix(opts: PostfixOptions = {}): Promise<PostfixInstance> {
  if (process.getuid?.() !== 0) throw new Error("the test Postfix needs root (master drops privileges itself)");
  const host = opts.host ?? "127.0.0.1";
  const port = opts.port ?? (await freePort(host));
  const stateDir = opts.dir ?? (await makePeerDir("postfix"));
  const configDir = path.join(stateDir, "etc");
  const syslogName = `postfix-fh-${randomBytes(3).toString("hex")}`;
  let sasl: DovecotAuth | undefined;
  let master: ManagedChild | undefined;
  const cleanup = async () => {
    await master?.stop();
    await sasl?.stop();
  };
  try {
    await fs.mkdir(configDir, { recursive: true });
    await createQueueTree(stateDir);
    if (opts.auth) sasl = await startDovecotAuth(path.join(stateDir, "sasl"), opts.auth.users);
    await fs.writeFile(
      path.join(configDir, "main.cf"),
      renderMainCf({ ...opts, host, stateDir, syslogName, saslPath: sasl?.socketPath }),
    );
    await fs.writeFile(path.join(configDir, "master.cf"), renderMasterCf(host, port));
    // -s: stay in the foreground (our child) without redirecting stdout; -c: our config only.
    master = spawnManaged(MASTER, ["-c", configDir, "-s"], {
      env: { ...process.env, MAIL_CONFIG: configDir },
      wrap: opts.wrap,
    });
    let output = "";
    master.child.stdout?.setEncoding("utf8").on("data", (d: string) => (output += d));
    master.child.stderr?.setEncoding("utf8").on("data", (d: string) => (output += d));
    const m = master;
    await waitForGreeting(host, port, { timeoutMs: 20_000, isAlive: () => m.alive() }).catch(async (err: Error) => {
      const log = await fs.readFile(path.join(stateDir, "maillog"), "utf8").catch(() => "");
      // A fatal error before postlogd runs goes to syslog, which this setup does not have.
      throw new Error(`postfix did not start on ${host}:${port}: ${err.message}\n${output}${log || "(no log: Postfix stopped before its logger started, usually over a main.cf setting)"}`);
    });
  } catch (err) {
    await cleanup();
    if (!opts.dir) await fs.rm(stateDir, { recursive: true, force: true });
    throw err;
  }
  const logPath = path.join(stateDir, "maillog");
  const queueDir = path.join(stateDir, "queue");
  const queueSize = async () => {
    let n = 0;
    for (const d of QUEUE_DIRS) n += await countFilesDeep(path.join(queueDir, d));
    return n;
  };
  let stopped = false;
  return {
    host,
    port,
    dir: stateDir,
    configDir,
    queueDir,
    logPath,
    pid: master.targetPid(),
    log: () => fs.readFile(logPath, "utf8").catch(() => ""),
    queueSize,
    waitQueueEmpty: (timeoutMs = 30_000) => waitUntil(async () => (await queueSize()) === 0, timeoutMs, 100),
    async stop(o = {}) {
      if (stopped) return;
      stopped = true;
      // SIGTERM: master passes it to its children and exits (what `postfix stop` does).
      await cleanup();
      if (!o.keep && !opts.dir) await fs.rm(stateDir, { recursive: true, force: true });
    },
  };
}
