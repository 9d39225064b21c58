// The settings a mail client needs, from the live listener configuration: which host name, and
// for IMAP and SMTP submission which ports with which TLS. Implicit TLS comes first (RFC 8314
// §3.3 and §5.1: clients SHOULD prefer implicit TLS; servers SHOULD offer it). Listeners without
// TLS are left out: Freehold refuses passwords in the clear (RFC 8314 §3, docs/security.md), so
// offering one would only produce a failing account.
import type { Config, Listener } from "../../config/schema.ts";

export type Security = "tls" | "starttls";

export interface Endpoint {
  host: string;
  port: number;
  security: Security;
}

export interface ClientSettings {
  /** The host name clients connect to (and the certificate's name): config `hostname`. */
  host: string;
  /** Preferred first. */
  imap: Endpoint[];
  /** Preferred first. */
  smtp: Endpoint[];
}

function endpoints(listeners: readonly Listener[], host: string, implicitRole: Listener["role"], starttlsRole: Listener["role"]): Endpoint[] {
  const out: Endpoint[] = [];
  const seen = new Set<string>();
  const add = (l: Listener) => {
    if (l.tls === "none" || l.port <= 0) return;
    const security: Security = l.tls === "implicit" ? "tls" : "starttls";
    const key = `${l.port}/${security}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ host, port: l.port, security });
  };
  for (const l of listeners) if (l.role === implicitRole) add(l);
  for (const l of listeners) if (l.role === starttlsRole) add(l);
  // An imap/submission listener configured with implicit TLS is still implicit: sort it first.
  return out.sort((a, b) => (a.security === b.security ? 0 : a.security === "tls" ? -1 : 1));
}

export function clientSettings(config: Pick<Config, "hostname" | "listeners">): ClientSettings {
  const host = config.hostname;
  return {
    host,
    imap: endpoints(config.listeners, host, "imaps", "imap"),
    smtp: endpoints(config.listeners, host, "submissions", "submission"),
  };
}
