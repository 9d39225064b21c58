// When to renew (issue 12 §4). Pure: the caller gives the clock's time and the random draw.
// - Renew once `renewWhenLeft` (default a third) of the lifetime notBefore..notAfter is left, as
//   Let's Encrypt recommends (renew at 60 of 90 days). Jitter: up to 10% of the lifetime earlier,
//   so many servers installed at once do not all ask the CA in the same minute.
// - After a failure: exponential back-off from 5 minutes to 12 hours; a rate limit (HTTP 429 or
//   urn:ietf:params:acme:error:rateLimited, RFC 8555 §6.7) waits at least the server's
//   Retry-After (RFC 8555 §6.6) and at least an hour.
export interface CertWindow {
  notBefore: number;
  notAfter: number;
}

export function renewAt(cert: CertWindow, renewWhenLeft: number, rand: number): number {
  const life = Math.max(0, cert.notAfter - cert.notBefore);
  const jitter = life * 0.1 * Math.min(Math.max(rand, 0), 1);
  return cert.notAfter - life * renewWhenLeft - jitter;
}

export const BACKOFF_MIN_MS = 5 * 60_000;
export const BACKOFF_MAX_MS = 12 * 3600_000;
export const RATE_LIMIT_MIN_MS = 3600_000;

/** Delay before attempt `failures + 1` (failures >= 1), with ±20% jitter from `rand` in [0, 1]. */
export function backoffMs(failures: number, rand: number, opts: { rateLimited?: boolean; retryAfterMs?: number } = {}): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.max(0, failures - 1));
  let d = base * (0.8 + 0.4 * Math.min(Math.max(rand, 0), 1));
  if (opts.rateLimited) d = Math.max(d, RATE_LIMIT_MIN_MS);
  if (opts.retryAfterMs !== undefined) d = Math.max(d, opts.retryAfterMs);
  return Math.round(Math.min(d, Math.max(BACKOFF_MAX_MS, opts.retryAfterMs ?? 0)));
}

/** The names one certificate covers: the mail host first, then mta-sts. and autoconfig. of each domain. */
export function certificateNames(hostname: string, domains: string[]): string[] {
  const out = [hostname.toLowerCase()];
  for (const d of domains) for (const n of [`mta-sts.${d}`, `autoconfig.${d}`]) if (!out.includes(n.toLowerCase())) out.push(n.toLowerCase());
  return out;
}

/** RFC 8555 does not cap SANs; Let's Encrypt allows 100 per certificate. Groups of at most `max`, mail host in the first. */
export function groupNames(names: string[], max = 100): string[][] {
  const groups: string[][] = [];
  for (let i = 0; i < names.length; i += max) groups.push(names.slice(i, i + max));
  return groups;
}
