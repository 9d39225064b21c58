// Password hashing with scrypt (RFC 7914) from node:crypto, asynchronous so a login never blocks
// the event loop (the work runs on libuv's thread pool).
//
// Stored format, self-describing so parameters can be raised later without breaking old hashes:
//   $scrypt$ln=15,r=8,p=1$<salt, base64 without padding>$<hash, base64 without padding>
// (ln = log2 of the CPU/memory cost N). With ln=15, r=8, p=1 a hash takes ~70 ms on the 2-core
// development machine and 32 MiB of memory (128·N·r bytes); `needsRehash` tells the login code
// when a stored hash uses weaker parameters than the current ones.
import { randomBytes, randomInt, scrypt, timingSafeEqual } from "node:crypto";

export interface ScryptParams {
  /** log2(N), the CPU/memory cost. */
  ln: number;
  /** Block size. */
  r: number;
  /** Parallelism. */
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { ln: 15, r: 8, p: 1 };

const SALT_BYTES = 16;
const HASH_BYTES = 32;
// A stored hash is data: bound what it may ask for, so a tampered row cannot make one verify
// allocate gigabytes or run for minutes.
const MAX = { ln: 20, r: 32, p: 16 };

function run(password: string, salt: Buffer, params: ScryptParams, keylen: number): Promise<Buffer> {
  const N = 2 ** params.ln;
  const maxmem = 128 * N * params.r * params.p + 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(password.normalize("NFC"), salt, keylen, { N, r: params.r, p: params.p, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

const b64 = (b: Buffer) => b.toString("base64").replace(/=+$/, "");

/** Hash a password into the encoded format. Passwords are NFC-normalised first (RFC 8265 §4.2). */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await run(password, salt, params, HASH_BYTES);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(hash)}`;
}

interface Decoded {
  params: ScryptParams;
  salt: Buffer;
  hash: Buffer;
}

function decode(encoded: string): Decoded | null {
  const m = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(encoded);
  if (!m) return null;
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (params.ln < 1 || params.ln > MAX.ln || params.r < 1 || params.r > MAX.r || params.p < 1 || params.p > MAX.p) {
    return null;
  }
  const salt = Buffer.from(m[4], "base64");
  const hash = Buffer.from(m[5], "base64");
  if (salt.length < 8 || hash.length < 16) return null;
  return { params, salt, hash };
}

/**
 * Check a password against an encoded hash. The comparison is constant-time; an unparseable
 * hash (e.g. a disabled account's "!") never verifies.
 */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const d = decode(encoded);
  if (!d) return false;
  const got = await run(password, d.salt, d.params, d.hash.length);
  return timingSafeEqual(got, d.hash);
}

/** True when the stored hash is unparseable or uses other parameters than `params`. */
export function needsRehash(encoded: string, params: ScryptParams = DEFAULT_SCRYPT): boolean {
  const d = decode(encoded);
  if (!d) return true;
  return d.params.ln !== params.ln || d.params.r !== params.r || d.params.p !== params.p;
}

// No 0/O, 1/l/I: generated passwords are read off a screen and typed.
export const PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/** A random password (20 characters from a 56-letter alphabet: ~116 bits). */
export function generatePassword(length = 20): string {
  let out = "";
  // randomInt draws without modulo bias.
  for (let i = 0; i < length; i++) out += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
  return out;
}
