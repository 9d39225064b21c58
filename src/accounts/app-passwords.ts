// App passwords (issue 9 §4): one random secret per mail client, so a phone or a laptop never
// holds the account password, and one lost device is cut off by revoking its app password alone.
// Valid for IMAP LOGIN/AUTHENTICATE and SMTP AUTH (AccountsService.verifyMailLogin), never for
// the web login (verifyWebLogin): an app password stored in a mail client must not open the
// account page where passwords are changed and new app passwords made.
//
// Format: 20 characters from a 32-letter alphabet without look-alikes (5 bits each, 100 bits),
// shown in five groups of four ("abcd-efgh-jkmn-pqrs-tuvw"). Clients differ in whether the user
// types the dashes, so the secret is the 20 characters: dashes and spaces are dropped and case is
// folded before hashing and verifying.
//
// Storage: the scrypt hash, like account passwords (login/password.ts), plus a lookup tag: the
// first 32 bits of SHA-256 over the normalized secret. The tag picks the one row worth checking,
// so a login costs one scrypt however many app passwords the account has (otherwise each failed
// login against an account with n app passwords would cost n+1 hashes: a denial-of-service
// lever). 32 bits of a fast hash of a 100-bit random secret leave 68 bits for an offline guesser
// who has stolen the database, each guess then paying a scrypt.
import { createHash, randomInt } from "node:crypto";

export const APP_PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789";
export const APP_PASSWORD_LENGTH = 20;
export const MAX_APP_PASSWORD_NAME = 64;
/** An account holds at most this many app passwords. */
export const MAX_APP_PASSWORDS = 50;

/** A new secret, grouped for display ("abcd-efgh-jkmn-pqrs-tuvw"). */
export function generateAppPassword(): string {
  let s = "";
  for (let i = 0; i < APP_PASSWORD_LENGTH; i++) s += APP_PASSWORD_ALPHABET[randomInt(APP_PASSWORD_ALPHABET.length)];
  return s.match(/.{4}/g)!.join("-");
}

/** The 20 characters of an app password as typed, or null when the input cannot be one. */
export function normalizeAppPassword(input: string): string | null {
  if (input.length > 64) return null;
  const s = input.replace(/[\s-]/g, "").toLowerCase();
  if (s.length !== APP_PASSWORD_LENGTH) return null;
  for (const ch of s) if (!APP_PASSWORD_ALPHABET.includes(ch)) return null;
  return s;
}

/** The non-secret lookup key stored beside the hash (see the header). */
export function appPasswordTag(normalized: string): string {
  return createHash("sha256").update("freehold app password\0").update(normalized).digest("hex").slice(0, 8);
}

/** A name names the client ("Phone", "Thunderbird at home"); printable, 1-64 characters. */
export function checkAppPasswordName(name: string): string | null {
  const n = name.trim();
  if (n.length === 0) return "an app password needs a name (e.g. the device it is for)";
  if (n.length > MAX_APP_PASSWORD_NAME) return `app password names are at most ${MAX_APP_PASSWORD_NAME} characters`;
  if (/[\u0000-\u001f\u007f]/.test(n)) return "app password names cannot contain control characters";
  return null;
}
