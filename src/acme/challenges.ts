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
