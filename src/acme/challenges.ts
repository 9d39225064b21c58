// HTTP-01 (RFC 8555 §8.3): while an order is open, the CA fetches
// http://<name>/.well-known/acme-challenge/<token> from port 80 and expects the key
// authorization. The pending tokens live here; the http listeners answer from them for any Host
// (src/web/server.ts). Tokens are random (base64url, ≥128 bits), so one table serves the process.
const pending = new Map<string, string>();

export const HTTP01_PREFIX = "/.well-known/acme-challenge/";

export function addHttp01(token: string, keyAuthorization: string): void {
  pending.set(token, keyAuthorization);
}

export function removeHttp01(token: string): void {
  pending.delete(token);
}

/** The key authorization for a token, or undefined. Tokens are base64url only (RFC 8555 §8.3). */
export function http01Answer(token: string): string | undefined {
  if (!/^[A-Za-z0-9_-]{1,256}$/.test(token)) return undefined;
  return pending.get(token);
}

// TLS-ALPN-01 (RFC 8737): the CA connects to port 443 with SNI <name> and ALPN "acme-tls/1" only
// and expects a self-signed certificate carrying the key authorization's digest (§3). That
// certificate is served only to a client offering acme-tls/1 for a name with a pending
// challenge: the ALPN callback runs first and marks the handshake, the SNI callback that runs
// right after it in the same call picks the challenge context (src/web/server.ts).
const alpnContexts = new Map<string, import("node:tls").SecureContext>();
let alpnMarked: string | null = null;

export const ACME_TLS_ALPN = "acme-tls/1";

export function addTlsAlpn01(name: string, context: import("node:tls").SecureContext): void {
  alpnContexts.set(name.toLowerCase(), context);
}

export function removeTlsAlpn01(name: string): void {
  alpnContexts.delete(name.toLowerCase());
}

/**
 * For tls.Server's ALPNCallback: acme-tls/1 for a pending challenge, else http/1.1 when offered.
 * A client offering acme-tls/1 with no challenge pending gets no protocol (RFC 8737 §3: the
 * handshake fails), as does one offering nothing we speak (RFC 7301 §3.2).
 */
export function selectAlpn(servername: string | undefined, protocols: string[]): string | undefined {
  alpnMarked = null;
  const name = (servername ?? "").toLowerCase().replace(/\.$/, "");
  if (protocols.includes(ACME_TLS_ALPN) && alpnContexts.has(name)) {
    alpnMarked = name;
    // Over TLS 1.3 the SNI callback follows in the same call; should it not (TLS 1.2 calls ALPN
    // after SNI), the mark must not outlive this handshake step and reach another client.
    setImmediate(() => {
      if (alpnMarked === name) alpnMarked = null;
    });
    return ACME_TLS_ALPN;
  }
  return protocols.includes("http/1.1") ? "http/1.1" : undefined;
}

/** For the SNI callback right after selectAlpn: the challenge context when that handshake asked for it. */
export function takeAlpnContext(servername: string): import("node:tls").SecureContext | undefined {
  const name = servername.toLowerCase().replace(/\.$/, "");
  const hit = alpnMarked === name ? alpnContexts.get(name) : undefined;
  alpnMarked = null;
  return hit;
}
