// DKIM keys per domain: generation, selector names, the DNS record to publish, and key
// rotation as a state machine over plain data (the store keeps the records; this file decides).
//
// Two keys sign every message, one RSA-2048 and one Ed25519 (RFC 8463 §1: Ed25519 is new
// enough that signers SHOULD also sign with RSA so older verifiers still see a valid signature).
//
// Selectors are named by date and type: "fh" + YYYYMM + "r" (RSA) or "e" (Ed25519), e.g.
// fh202611r and fh202611e; a second key of the same type in the same month gets a number:
// fh202611r2. A selector says when its key was made (handy when reading a DNS zone years
// later), never collides between the two types, and is a valid DNS label (RFC 6376 §3.1).
//
// Rotation (per domain and key type):
//
//   new ──(record seen live in DNS)──► published ──(activate)──► active ──► retiring ──► retired
//    └──────────────(discard)───────────────┴─────────────────────────────────────────────┘
//
//   - new: generated, stored; the admin (or our DNS provider integration) publishes the TXT.
//   - published: `check` found the exact record through our Resolver.
//   - active: signing. Activating a key moves the previously active key of its type to retiring.
//   - retiring: no longer signing but still published, for at least 7 days, so signatures on
//     mail still in transit verify: a message may wait up to ~5 days in a remote queue (the
//     usual queue lifetime) and is verified only when it arrives. RFC 6376 leaves the
//     schedule to the signer.
//   - retired: the record may be removed; we keep the row for the audit trail, without the key.
import { generateKeyPair, createPublicKey, createPrivateKey } from "node:crypto";
import { promisify } from "node:util";

const generateKeyPairAsync = promisify(generateKeyPair);

export type DkimKeyType = "rsa" | "ed25519";
export type DkimKeyState = "new" | "published" | "active" | "retiring" | "retired";

export interface DkimKey {
  /** Signing domain (d=), lower-case A-labels. */
  domain: string;
  selector: string;
  type: DkimKeyType;
  /** PKCS#8 PEM; emptied when the key is retired. */
  privateKeyPem: string;
  /** The p= value: base64 SubjectPublicKeyInfo (RSA) or raw 32-byte key (Ed25519). */
  publicKey: string;
  state: DkimKeyState;
  createdAt: number;
  publishedAt?: number;
  activatedAt?: number;
  retiringAt?: number;
  retiredAt?: number;
}

/** Days a retiring key stays published before it may be retired. */
export const MIN_RETIRING_MS = 7 * 86_400_000;
export const RSA_BITS = 2048;

const SUFFIX: Record<DkimKeyType, string> = { rsa: "r", ed25519: "e" };

/**
 * The selector for a key made at `now`: fh<YYYYMM><r|e>, numbered from 2 when the name is taken.
 * `taken` are the selectors already used by the domain (any state: a retired selector is never
 * reused, a verifier may still have its record cached).
 */
export function selectorFor(type: DkimKeyType, now: number, taken: Iterable<string>): string {
  const d = new Date(now);
  const base = `fh${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, "0")}${SUFFIX[type]}`;
  const used = new Set([...taken].map((s) => s.toLowerCase()));
  if (!used.has(base)) return base;
  for (let n = 2; ; n++) if (!used.has(`${base}${n}`)) return `${base}${n}`;
}

/** The p= value for a public key. */
export function publicKeyValue(type: DkimKeyType, publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: "spki", format: "der" });
  // RFC 8463 §4.2: for ed25519 the p= value is the base64 of the raw 32-byte public key, not
  // the SubjectPublicKeyInfo RSA uses (RFC 6376 §3.6.1). The raw key is the SPKI's last 32 bytes.
  return (type === "ed25519" ? der.subarray(der.length - 32) : der).toString("base64");
}

/** Generates a key pair and the record for it, in state "new". */
export async function generateDkimKey(domain: string, type: DkimKeyType, now: number, taken: Iterable<string>): Promise<DkimKey> {
  const { privateKey, publicKey } =
    type === "rsa"
      ? await generateKeyPairAsync("rsa", { modulusLength: RSA_BITS })
      : await generateKeyPairAsync("ed25519");
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const pubPem = publicKey.export({ type: "spki", format: "pem" }).toString();
  return {
    domain: domain.toLowerCase(),
    selector: selectorFor(type, now, taken),
    type,
    privateKeyPem: pem,
    publicKey: publicKeyValue(type, pubPem),
    state: "new",
    createdAt: now,
  };
}

/** Rebuilds the p= value from a stored private key (to check a record against the key). */
export function publicKeyFromPrivate(type: DkimKeyType, privateKeyPem: string): string {
  const pub = createPublicKey(createPrivateKey(privateKeyPem)).export({ type: "spki", format: "pem" }).toString();
  return publicKeyValue(type, pub);
}

/** The owner name of the key record: <selector>._domainkey.<domain> (RFC 6376 §3.6.2.1). */
export function dkimRecordName(key: Pick<DkimKey, "selector" | "domain">): string {
  return `${key.selector}._domainkey.${key.domain}`;
}

/**
 * The TXT record text (RFC 6376 §3.6.1): v=DKIM1 first, k= the key type (RFC 8463 §4 registers
 * "ed25519"), p= the key. No t=y (that is for testing, verifiers may ignore failures) and no
 * h=, so both sha256 signatures verify.
 */
export function dkimTxtRecord(key: Pick<DkimKey, "type" | "publicKey">): string {
  return `v=DKIM1; k=${key.type}; p=${key.publicKey}`;
}

/**
 * The record split into character-strings of at most 255 octets (RFC 1035 §3.3.14), as zone
 * files and DNS APIs need for a 2048-bit RSA key (about 400 characters). Verifiers join them
 * (RFC 6376 §3.6.2.2).
 */
export function txtStrings(record: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < record.length; i += 255) out.push(record.slice(i, i + 255));
  return out;
}

function tags(record: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of record.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    // RFC 6376 §3.2: whitespace around tags and inside base64 values is insignificant.
    m.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).replace(/\s+/g, ""));
  }
  return m;
}

/**
 * Whether a TXT answer (node/our Resolver's string[][], one entry per record, its strings to be
 * joined) contains this key's record: the same key type and p=. Extra tags are fine.
 */
export function isPublished(key: Pick<DkimKey, "type" | "publicKey">, answer: readonly (readonly string[])[]): boolean {
  return answer.some((strings) => {
    const t = tags(strings.join(""));
    if (t.has("v") && t.get("v") !== "DKIM1") return false;
    return (t.get("k") ?? "rsa") === key.type && t.get("p") === key.publicKey;
  });
}

export class DkimTransitionError extends Error {
  constructor(key: DkimKey, want: string) {
    super(`DKIM key ${key.selector} for ${key.domain} is ${key.state}; cannot ${want}`);
    this.name = "DkimTransitionError";
  }
}

/** new → published, when `answer` (the live TXT lookup of dkimRecordName) holds the record. */
export function markPublished(key: DkimKey, answer: readonly (readonly string[])[], now: number): DkimKey {
  if (key.state !== "new") throw new DkimTransitionError(key, "mark it published");
  if (!isPublished(key, answer)) throw new DkimTransitionError(key, "mark it published: the record is not live");
  return { ...key, state: "published", publishedAt: now };
}

/**
 * published → active for `selector`, and the active key of the same type → retiring, over the
 * domain's whole key list (so the two changes are one step and never leave two signing keys).
 */
export function activate(keys: readonly DkimKey[], selector: string, now: number): DkimKey[] {
  const target = keys.find((k) => k.selector === selector);
  if (!target) throw new Error(`no DKIM key ${selector}`);
  if (target.state !== "published") throw new DkimTransitionError(target, "activate it before it is published");
  return keys.map((k) => {
    if (k === target) return { ...k, state: "active", activatedAt: now };
    if (k.domain === target.domain && k.type === target.type && k.state === "active") {
      return { ...k, state: "retiring", retiringAt: now };
    }
    return k;
  });
}

/** retiring → retired, once the key has been retiring for minRetiringMs (7 days by default). */
export function retire(key: DkimKey, now: number, minRetiringMs = MIN_RETIRING_MS): DkimKey {
  if (key.state !== "retiring") throw new DkimTransitionError(key, "retire it");
  if (now - (key.retiringAt ?? now) < minRetiringMs) throw new DkimTransitionError(key, "retire it yet (too soon)");
  return { ...key, state: "retired", retiredAt: now, privateKeyPem: "" };
}

/** new or published → retired: a key that never signed (a rotation that was abandoned). */
export function discard(key: DkimKey, now: number): DkimKey {
  if (key.state !== "new" && key.state !== "published") throw new DkimTransitionError(key, "discard it");
  return { ...key, state: "retired", retiredAt: now, privateKeyPem: "" };
}

/** The keys to sign with: the active one of each type. */
export function signingKeys(keys: readonly DkimKey[]): DkimKey[] {
  return keys.filter((k) => k.state === "active");
}

/** The records that must be in DNS now: every key that is published, active or retiring. */
export function recordsToPublish(keys: readonly DkimKey[]): { name: string; text: string; state: DkimKeyState }[] {
  return keys
    .filter((k) => k.state !== "retired")
    .map((k) => ({ name: dkimRecordName(k), text: dkimTxtRecord(k), state: k.state }));
}

export type RotationAction =
  | { kind: "publish-and-check"; selector: string; name: string; text: string }
  | { kind: "activate"; selector: string }
  | { kind: "retire"; selector: string };

/**
 * What the rotation job should do next for one domain, given its keys and the time: check new
 * keys' records, activate published keys (the newest one per type), retire keys whose 7 days
 * are up. The job performs each action through the transitions above and calls again.
 */
export function nextRotationActions(keys: readonly DkimKey[], now: number, minRetiringMs = MIN_RETIRING_MS): RotationAction[] {
  const out: RotationAction[] = [];
  for (const k of keys) {
    if (k.state === "new") out.push({ kind: "publish-and-check", selector: k.selector, name: dkimRecordName(k), text: dkimTxtRecord(k) });
  }
  for (const type of ["rsa", "ed25519"] as const) {
    const published = keys.filter((k) => k.type === type && k.state === "published").sort((a, b) => b.createdAt - a.createdAt);
    const active = keys.find((k) => k.type === type && k.state === "active");
    if (published[0] && (!active || published[0].createdAt > active.createdAt)) {
      out.push({ kind: "activate", selector: published[0].selector });
    }
  }
  for (const k of keys) {
    if (k.state === "retiring" && now - (k.retiringAt ?? now) >= minRetiringMs) out.push({ kind: "retire", selector: k.selector });
  }
  return out;
}
