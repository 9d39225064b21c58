// Certificates by name for https listeners (config tls.sni): each pair is loaded and checked as
// the main one (tls/context.ts) and kept current by the same reloader (tls/reload.ts: file
// changes and SIGHUP; a bad renewal keeps the old certificate). RFC 6066 §3: the client's
// server_name picks the certificate; a name with no entry gets the main certificate.
import type tls from "node:tls";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log/logger.ts";
import { loadTlsContext } from "../tls/context.ts";
import type { LoadedTls } from "../tls/context.ts";
import { watchTlsFiles } from "../tls/reload.ts";
import type { TlsReloader } from "../tls/reload.ts";

export interface SniCertificates {
  /** The context for a client's server name, or undefined (use the main certificate). */
  pick(servername: string): tls.SecureContext | undefined;
  /** Every certificate loaded for tls.sni (current after reloads), for the status page. */
  loaded(): LoadedTls[];
  stop(): void;
}

export async function openSniCertificates(entries: Config["tls"]["sni"], logger: Logger): Promise<SniCertificates> {
  const exact = new Map<string, LoadedTls>();
  const wildcard = new Map<string, LoadedTls>();
  const reloaders: TlsReloader[] = [];
  const all: LoadedTls[] = [];
  for (const e of entries ?? []) {
    const live = await loadTlsContext(e.cert, e.key);
    all.push(live);
    reloaders.push(watchTlsFiles(live, { certPath: e.cert, keyPath: e.key, logger }));
    for (const n of e.names) {
      if (n.startsWith("*.")) wildcard.set(n.slice(2), live);
      else exact.set(n, live);
    }
  }
  return {
    pick(servername) {
      const name = servername.toLowerCase().replace(/\.$/, "");
      const hit = exact.get(name) ?? wildcard.get(name.slice(name.indexOf(".") + 1));
      return hit?.context;
    },
    loaded: () => all,
    stop() {
      for (const r of reloaders) r.stop();
    },
  };
}
