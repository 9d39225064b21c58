// Debian's Dovecot 2.3 as the benchmark reference: LMTP (Postfix delivers into it) and IMAP on
// loopback ports, Maildir storage, passwd-file users with password "pass", settings as in
// ../shared/peers/dovecot (default mail_fsync = optimized: it fsyncs before acknowledging).
// Runs in the foreground as our child, optionally under strace.
import fs from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import {
  freePort,
  spawnManaged,
  systemUser,
  waitForGreeting,
  type ManagedChild,
} from "../../test/support/peer-util.ts";

export interface DovecotBenchOptions {
  /** State dir (created). */
  dir: string;
  users: string[];
  /** Mail domain for LMTP recipients (user@domain → user). */
  domain: string;
  lmtp?: boolean;
  imap?: boolean;
  /** Implicit-TLS IMAP with this certificate. */
  imaps?: { certFile: string; keyFile: string };
  /** Per-user/IP connection limit (peers: 1000). */
  maxUserIpConnections?: number;
  wrap?: string[];
  /** Extra lines appended to dovecot.conf. */
  extra?: string[];
}

export interface DovecotBench {
  readonly lmtpPort: number;
  readonly imapPort: number;
  readonly imapsPort: number;
  readonly dir: string;
  readonly logPath: string;
  /** The master's PID (its children are the services). */
  pid(): number;
  /** Maildir of a user (…/Maildir; INBOX is its new/ and cur/). */
  maildir(user: string): string;
  stop(): Promise<void>;
}

export async function startDovecotBench(o: DovecotBenchOptions): Promise<DovecotBench> {
  if (o.lmtp !== false && !existsSync("/usr/lib/dovecot/lmtp")) {
    throw new Error("Dovecot's LMTP server is missing: apt-get install dovecot-lmtpd");
  }
  const lmtpPort = o.lmtp === false ? 0 : await freePort();
  const imapPort = o.imap ? await freePort() : 0;
  const imapsPort = o.imaps ? await freePort() : 0;
  const run = path.join(o.dir, "run");
  const mail = path.join(o.dir, "mail");
  await fs.mkdir(run, { recursive: true });
  await fs.mkdir(path.join(o.dir, "state"), { recursive: true });
  await fs.mkdir(mail, { recursive: true });
  await fs.chmod(o.dir, 0o755);
  const mailUser = await systemUser("mail");
  await fs.chown(mail, mailUser.uid, mailUser.gid);
  const usersFile = path.join(o.dir, "users");
  await fs.writeFile(usersFile, o.users.map((u) => `${u}:{PLAIN}pass\n`).join(""), { mode: 0o644 });
  const logPath = path.join(o.dir, "dovecot.log");
  const protocols = [o.lmtp === false ? "" : "lmtp", o.imap || o.imaps ? "imap" : ""].filter(Boolean);
  const conf = [
    `instance_name = fh-bench-${randomBytes(4).toString("hex")}`,
    `base_dir = ${run}`,
    `state_dir = ${path.join(o.dir, "state")}`,
    "listen = 127.0.0.1",
    `protocols = ${protocols.join(" ")}`,
    `log_path = ${logPath}`,
    o.imaps ? `ssl = yes\nssl_cert = <${o.imaps.certFile}\nssl_key = <${o.imaps.keyFile}` : "ssl = no",
    "disable_plaintext_auth = no",
    "auth_mechanisms = plain login",
    "default_internal_user = dovecot",
    "default_login_user = dovenull",
    "first_valid_uid = 8",
    "mail_uid = mail",
    "mail_gid = mail",
    `mail_home = ${mail}/%n`,
    "mail_location = maildir:~/Maildir",
    "namespace inbox {",
    "  inbox = yes",
    "  separator = /",
    "}",
    "passdb {",
    "  driver = passwd-file",
    `  args = scheme=PLAIN username_format=%n ${usersFile}`,
    "}",
    "userdb {",
    "  driver = static",
    `  args = uid=mail gid=mail home=${mail}/%n`,
    "}",
    "service imap-login {",
    "  inet_listener imap {",
    "    address = 127.0.0.1",
    `    port = ${imapPort}`,
    "  }",
    "  inet_listener imaps {",
    "    address = 127.0.0.1",
    `    port = ${imapsPort}`,
    "  }",
    "}",
    "service lmtp {",
    "  inet_listener lmtp {",
    "    address = 127.0.0.1",
    `    port = ${lmtpPort}`,
    "  }",
    "}",
    "protocol lmtp {",
    `  postmaster_address = postmaster@${o.domain}`,
    "}",
    "protocol imap {",
    `  mail_max_userip_connections = ${o.maxUserIpConnections ?? 1000}`,
    "}",
    ...(o.extra ?? []),
    "",
  ].join("\n");
  const confPath = path.join(o.dir, "dovecot.conf");
  await fs.writeFile(confPath, conf);
  const child: ManagedChild = spawnManaged("/usr/sbin/dovecot", ["-F", "-c", confPath], { wrap: o.wrap });
  let stderr = "";
  child.child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  try {
    if (lmtpPort) await waitForGreeting("127.0.0.1", lmtpPort, { timeoutMs: 20_000, isAlive: () => child.alive() });
    if (imapPort) await waitForGreeting("127.0.0.1", imapPort, { expect: "* OK", timeoutMs: 20_000, isAlive: () => child.alive() });
  } catch (err) {
    await child.stop();
    const log = await fs.readFile(logPath, "utf8").catch(() => "");
    throw new Error(`dovecot did not start: ${(err as Error).message}\n${stderr}${log}`);
  }
  return {
    lmtpPort,
    imapPort,
    imapsPort,
    dir: o.dir,
    logPath,
    pid: () => child.targetPid(),
    maildir: (user) => path.join(mail, user, "Maildir"),
    stop: () => child.stop(),
  };
}
