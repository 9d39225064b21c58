// SASL pieces for SMTP AUTH (RFC 4954) as pure functions: base64 decoding of client responses
// and the PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login) messages.

export type SaslResult<T> = { ok: true; value: T } | { ok: false; reason: "cancelled" | "bad-base64" | "bad-message" };

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * A client response line. RFC 4954 §4: "*" cancels the exchange; "=" is an empty initial
 * response; anything else must be base64 (a line we cannot decode gets 501 5.5.2).
 */
export function decodeResponse(line: string): SaslResult<Buffer> {
  const s = line.trim();
  if (s === "*") return { ok: false, reason: "cancelled" };
  if (s === "=") return { ok: true, value: Buffer.alloc(0) };
  if (!B64.test(s)) return { ok: false, reason: "bad-base64" };
  return { ok: true, value: Buffer.from(s, "base64") };
}

export interface PlainCredentials {
  /** RFC 4616 authzid: empty, or the same identity (we do not allow acting as someone else). */
  authzid: string;
  user: string;
  password: string;
}

/** RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd. */
export function parsePlain(msg: Buffer): SaslResult<PlainCredentials> {
  const first = msg.indexOf(0);
  const second = first < 0 ? -1 : msg.indexOf(0, first + 1);
  if (first < 0 || second < 0 || msg.indexOf(0, second + 1) >= 0) return { ok: false, reason: "bad-message" };
  const authzid = msg.toString("utf8", 0, first);
  const user = msg.toString("utf8", first + 1, second);
  const password = msg.toString("utf8", second + 1);
  // RFC 4616 §2: authcid and passwd are 1 to 255 octets.
  if (user === "" || password === "" || second - first - 1 > 255 || msg.length - second - 1 > 255) return { ok: false, reason: "bad-message" };
  return { ok: true, value: { authzid, user, password } };
}

/** The LOGIN mechanism's prompts (base64 of "Username:" and "Password:"), as every server sends them. */
export const LOGIN_USER_PROMPT = Buffer.from("Username:").toString("base64");
export const LOGIN_PASSWORD_PROMPT = Buffer.from("Password:").toString("base64");

/** The mechanisms we offer, in EHLO order. Both send the password itself, hence TLS only. */
export const MECHANISMS = ["PLAIN", "LOGIN"] as const;
export type Mechanism = (typeof MECHANISMS)[number];
