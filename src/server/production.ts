// What a production server (dev: false) refuses to start with (issue 12): logins from dev mode,
// and listeners that would take a password without TLS. An open relay cannot be configured: the
// MX role never relays (it accepts only local recipients) and submission relays only after AUTH
// (src/smtp, src/submission), so there is no key to check for it.
import { stat } from "node:fs/promises";
import path from "node:path";
import type { Config } from "../config/schema.ts";

/** The dev setup's login files (src/cli/dev-setup.ts); their passwords are printed on every dev start. */
const DEV_PASSWORD_FILES = ["dev-demo.password", "dev-admin.password"];

/** Lines for the operator; empty when the config may serve. Dev mode has no such rules. */
export async function productionProblems(config: Config): Promise<string[]> {
  if (config.dev) return [];
  const out: string[] = [];
  config.listeners.forEach((l, i) => {
    // RFC 8314 §3 / RFC 4954 §4: credentials only over TLS. submission and imap offer AUTH/LOGIN;
    // with tls: none they would take passwords in the clear.
    if ((l.role === "submission" || l.role === "imap") && l.tls === "none") {
      out.push(`listeners[${i}] (${l.role} ${l.address}:${l.port}): tls: none would offer AUTH without TLS; use starttls (production refuses it)`);
    }
  });
  for (const f of DEV_PASSWORD_FILES) {
    const p = path.join(config.dataDir, f);
    if (await stat(p).then(() => true, () => false)) {
      out.push(`${p}: a dev-mode login (its password is printed on every dev start) in a production data folder; delete the file and change that user's password`);
    }
  }
  return out;
}
