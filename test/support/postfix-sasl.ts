// A Dovecot that runs only its auth service, as the SASL backend for a test Postfix
// (smtpd_sasl_type = dovecot): Postfix has no password store of its own, and Debian's Postfix is
// built with Dovecot SASL. No protocols, no mail; one Unix socket Postfix connects to.
import fs from "node:fs/promises";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { spawnManaged, waitUntil, type ManagedChild } from "./peer-util.ts";

export interface DovecotAuth {
  /** The socket path for smtpd_sasl_path. */
  readonly socketPath: string;
  readonly logPath: string;
  stop(): Promise<void>;
}

/** Starts an auth-only Dovecot in `dir` (created) for the given user → password pairs. */
export async function startDovecotAuth(dir: string, users: Record<string, string>): Promise<DovecotAuth> {
  for (const name of Object.keys(users)) {
    if (/[:\s]/.test(name) || /[\n\r]/.test(users[name])) throw new Error(`unusable SASL user ${JSON.stringify(name)}`);
  }
  const run = path.join(dir, "run");
  await fs.mkdir(run, { recursive: true });
  await fs.mkdir(path.join(dir, "state"), { recursive: true });
  const usersFile = path.join(dir, "users");
  // passwd-file with PLAIN scheme: test-only credentials, readable by the auth worker.
  await fs.writeFile(
    usersFile,
    Object.entries(users)
      .map(([u, p]) => `${u}:{PLAIN}${p}\n`)
      .join(""),
    { mode: 0o644 },
  );
  const logPath = path.join(dir, "dovecot.log");
  const conf = path.join(dir, "dovecot.conf");
  await fs.writeFile(
    conf,
    [
      `instance_name = fh-auth-${randomBytes(4).toString("hex")}`,
      `base_dir = ${run}`,
      `state_dir = ${path.join(dir, "state")}`,
      `log_path = ${logPath}`,
      "protocols =",
      "ssl = no",
      // Postfix relays the client's credentials only after its own STARTTLS (smtpd_tls_auth_only).
      "disable_plaintext_auth = no",
      "auth_mechanisms = plain login",
      // Tests try wrong passwords on purpose; the default 2 s penalty would only slow them.
      "auth_failure_delay = 0",
      "default_internal_user = dovecot",
      "default_login_user = dovenull",
      "passdb {",
      "  driver = passwd-file",
      `  args = scheme=PLAIN username_format=%u ${usersFile}`,
      "}",
      "userdb {",
      "  driver = static",
      `  args = uid=mail gid=mail home=${path.join(dir, "home")}/%n`,
      "}",
      // No per-IP auth penalty either (it delays the next login after a failure by seconds):
      // the documented switch is an unusable anvil-auth-penalty socket.
      "service anvil {",
      "  unix_listener anvil-auth-penalty {",
      "    mode = 0",
      "  }",
      "}",
      "service auth {",
      "  unix_listener auth-postfix {",
      "    mode = 0666",
      "  }",
      "}",
      "",
    ].join("\n"),
  );
  const child: ManagedChild = spawnManaged("dovecot", ["-F", "-c", conf]);
  let stderr = "";
  child.child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const socketPath = path.join(run, "auth-postfix");
  const ok = await waitUntil(async () => {
    if (!child.alive()) return true;
    return fs.stat(socketPath).then(
      () => true,
      () => false,
    );
  }, 10_000);
  if (!ok || !child.alive()) {
    await child.stop();
    const log = await fs.readFile(logPath, "utf8").catch(() => "");
    throw new Error(`dovecot auth did not start: ${stderr}${log}`);
  }
  return { socketPath, logPath, stop: () => child.stop() };
}
