// Sender Rewriting Scheme for mail we forward to external alias targets.
//
// When we forward alice@sender.example's message to bob@elsewhere.example, keeping
// MAIL FROM:<alice@sender.example> makes elsewhere's SPF check fail (our IP is not in
// sender.example's SPF). SRS rewrites the envelope sender to an address at our domain that
// encodes the original one, so SPF passes for us and bounces come back to us, and we turn them
// around to the original sender.
//
// The address format is Shevek's "Sender Rewriting Scheme" paper as implemented by libsrs2 and
// Mail::SRS, which every SRS-aware MTA recognises:
//
//   SRS0=HHH=TT=orig-domain=orig-local@forwarder
//   SRS1=HHH=first-forwarder==HHH=TT=orig-domain=orig-local@second-forwarder
//
//   HHH  HMAC-SHA1 over the other fields, base64, truncated (libsrs2 uses 4 characters; we use
//        6 by default because comparison is case-insensitive, which costs about one bit per
//        character, see below).
//   TT   the day number (Unix time / 86400) modulo 1024, two base32 characters; an address is
//        honoured for maxAgeDays (21 by default, libsrs2's maxage) after it was made.
//
// Two deliberate departures from libsrs2, both invisible to other MTAs (only the forwarder that
// made an address ever checks its hash):
//   - The fields are hashed with a NUL between them. libsrs2 hashes their plain concatenation,
//     so "example.co" + "muser" and "example.com" + "user" have the same hash: a bounce to a
//     valid SRS address could be re-aimed by moving the domain/local boundary.
//   - The key is derived from the server secret, never the secret itself (deriveSrsKey).
//
// Hash comparison is case-insensitive: some MTAs and mailbox providers lower-case local parts,
// and RFC 5321 §2.4 only says a local part "MAY be case-sensitive". libsrs2 compares the same way.
import { createHmac, timingSafeEqual } from "node:crypto";

const DAY_MS = 86_400_000;
// Shevek: "precision" of the timestamp is 1 day and it wraps at 2^10 days.
const TIMESTAMP_MODULUS = 1024;
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

export interface SrsOptions {
  /** Key from deriveSrsKey(serverSecret). */
  key: Buffer;
  /** Our domain, used as the domain of every rewritten address (lower-case A-labels). */
  forwarderDomain: string;
  /** Domains whose senders are ours: they keep their address (our SPF covers them). */
  isLocalDomain: (domain: string) => boolean;
  /** Characters of the hash kept (default 6). */
  hashLength?: number;
  /** Days an address stays valid for bounces (default 21). */
  maxAgeDays?: number;
}

/** The SRS key, derived from the server's secret so the secret itself never signs anything. */
export function deriveSrsKey(serverSecret: string | Buffer): Buffer {
  return createHmac("sha256", serverSecret).update("freehold srs key v1").digest();
}

function splitAddress(address: string): { local: string; domain: string } | null {
  const at = address.lastIndexOf("@");
  if (at <= 0 || at === address.length - 1) return null;
  return { local: address.slice(0, at), domain: address.slice(at + 1) };
}

/** What checking an SRS address needs: the key and the limits (no domains). */
export type SrsCheckOptions = Pick<SrsOptions, "key" | "hashLength" | "maxAgeDays">;

function hash(opts: SrsCheckOptions, fields: string[]): string {
  const h = createHmac("sha1", opts.key);
  // Lower-cased because the address may come back lower-cased (see the header comment).
  h.update(fields.map((f) => f.toLowerCase()).join("\0"));
  return h.digest("base64").slice(0, opts.hashLength ?? 6);
}

function hashMatches(opts: SrsCheckOptions, given: string, fields: string[]): boolean {
  const want = Buffer.from(hash(opts, fields).toLowerCase());
  const got = Buffer.from(given.toLowerCase());
  return want.length === got.length && timingSafeEqual(want, got);
}

/** The TT field for a time: the day number modulo 1024 in two base32 characters. */
export function srsTimestamp(now: number): string {
  const day = Math.floor(now / DAY_MS) % TIMESTAMP_MODULUS;
  return BASE32[day >> 5] + BASE32[day & 31];
}

function decodeTimestamp(tt: string): number | null {
  if (tt.length !== 2) return null;
  const hi = BASE32.indexOf(tt[0].toUpperCase());
  const lo = BASE32.indexOf(tt[1].toUpperCase());
  return hi < 0 || lo < 0 ? null : (hi << 5) | lo;
}

/** Days since the timestamp was made, counting the wrap at 1024 days as libsrs2 does. */
function timestampAgeDays(tt: number, now: number): number {
  const today = Math.floor(now / DAY_MS) % TIMESTAMP_MODULUS;
  return (today - tt + TIMESTAMP_MODULUS) % TIMESTAMP_MODULUS;
}

const SRS0 = /^srs0[=+-]/i;
const SRS1 = /^srs1[=+-]/i;

export function isSrsLocalPart(local: string): boolean {
  return SRS0.test(local) || SRS1.test(local);
}

/**
 * The envelope sender to use when forwarding a message whose MAIL FROM was `sender`.
 * `<>` (given as "") stays empty: a bounce is never rewritten (nothing may bounce back to it).
 * Senders in our own domains keep their address. An SRS0 address from another forwarder
 * becomes SRS1 (the original forwarder is kept, so the bounce path stays two hops, not one
 * more per forwarder); an SRS1 address keeps its first forwarder and gets our hash.
 */
export function srsForward(sender: string, opts: SrsOptions, now: number): string {
  if (sender === "") return "";
  const parts = splitAddress(sender);
  if (!parts) return sender;
  const domain = parts.domain.toLowerCase();
  if (opts.isLocalDomain(domain)) return sender;
  const fwd = opts.forwarderDomain;

  if (SRS0.test(parts.local)) {
    // Shevek §"SRS1": SRS1=HHH=<forwarder that made the SRS0>==HHH=TT=domain=local
    const srsUser = parts.local.slice(4); // keeps its separator: "=HHH=TT=..."
    return `SRS1=${hash(opts, [domain, srsUser])}=${domain}=${srsUser}@${fwd}`;
  }
  if (SRS1.test(parts.local)) {
    const inner = parseSrs1(parts.local);
    if (inner) return `SRS1=${hash(opts, [inner.host, inner.user])}=${inner.host}=${inner.user}@${fwd}`;
    // An SRS1 we cannot parse is treated as an ordinary address below.
  }
  const tt = srsTimestamp(now);
  return `SRS0=${hash(opts, [tt, domain, parts.local])}=${tt}=${domain}=${parts.local}@${fwd}`;
}

function parseSrs1(local: string): { hash: string; host: string; user: string } | null {
  // SRS1 sep HHH = host = user, where user begins with the SRS0 separator.
  const rest = local.slice(5);
  const e1 = rest.indexOf("=");
  if (e1 <= 0) return null;
  const e2 = rest.indexOf("=", e1 + 1);
  if (e2 <= e1 + 1) return null;
  const user = rest.slice(e2 + 1);
  if (!/^[=+-]/.test(user)) return null;
  return { hash: rest.slice(0, e1), host: rest.slice(e1 + 1, e2), user };
}

export type SrsReverseResult =
  | { ok: true; address: string }
  | { ok: false; reason: "not-srs" | "malformed" | "bad-hash" | "expired" };

/**
 * Maps an SRS address at our domain back to where its bounce must go: the original sender
 * for SRS0, the first forwarder's SRS0 address for SRS1. Bounces to an address whose hash
 * does not check out are refused (else we would be a bounce relay for anyone), as are SRS0
 * addresses older than maxAgeDays (Shevek: timestamps limit replay of a harvested address).
 */
export function srsReverse(address: string, opts: SrsCheckOptions, now: number): SrsReverseResult {
  const parts = splitAddress(address);
  if (!parts) return { ok: false, reason: "not-srs" };
  const local = parts.local;
  if (SRS1.test(local)) {
    const p = parseSrs1(local);
    if (!p) return { ok: false, reason: "malformed" };
    if (!hashMatches(opts, p.hash, [p.host.toLowerCase(), p.user])) return { ok: false, reason: "bad-hash" };
    return { ok: true, address: `SRS0${p.user}@${p.host}` };
  }
  if (!SRS0.test(local)) return { ok: false, reason: "not-srs" };
  // SRS0 sep HHH = TT = domain = local; the original local part may itself contain "=".
  const rest = local.slice(5);
  const f = rest.split("=");
  if (f.length < 4) return { ok: false, reason: "malformed" };
  const [hh, tt, domain] = f;
  const origLocal = f.slice(3).join("=");
  const day = decodeTimestamp(tt);
  if (!hh || day === null || !domain || !origLocal) return { ok: false, reason: "malformed" };
  if (!hashMatches(opts, hh, [tt.toUpperCase(), domain.toLowerCase(), origLocal])) {
    return { ok: false, reason: "bad-hash" };
  }
  if (timestampAgeDays(day, now) > (opts.maxAgeDays ?? 21)) return { ok: false, reason: "expired" };
  return { ok: true, address: `${origLocal}@${domain}` };
}

export type SrsBounceTarget =
  | { kind: "not-srs" }
  | { kind: "reverse"; address: string }
  | { kind: "refused"; reason: "malformed" | "bad-hash" | "expired" };

/**
 * The mx side of SRS: a recipient whose local part is SRS0/SRS1 at one of our domains (the
 * forwarder domain we rewrite to, or any domain we host) is a bounce or reply to an address we
 * made. A valid one is delivered to srsReverse's address; an invalid or expired one is refused
 * (never delivered as an ordinary local part: it would let anyone use us as a bounce relay).
 * Anything else is "not-srs" and resolved as usual.
 */
export async function srsBounceTarget(
  address: string,
  opts: SrsCheckOptions & { forwarderDomain: string },
  isOurDomain: (domain: string) => Promise<boolean>,
  now: number,
): Promise<SrsBounceTarget> {
  const parts = splitAddress(address);
  if (!parts || !isSrsLocalPart(parts.local)) return { kind: "not-srs" };
  const domain = parts.domain.toLowerCase();
  if (domain !== opts.forwarderDomain.toLowerCase() && !(await isOurDomain(domain))) return { kind: "not-srs" };
  const r = srsReverse(address, opts, now);
  if (r.ok) return { kind: "reverse", address: r.address };
  return { kind: "refused", reason: r.reason === "not-srs" ? "malformed" : r.reason };
}
