// DKIM signing of outbound mail (RFC 6376 §5), relaxed/relaxed, with the active RSA and Ed25519
// keys of the sender's domain (dkim-keys.ts).
//
// Which header fields are signed (RFC 6376 §5.4): the ones a verifier or a reader relies on —
// From (required, §5.4), Sender, Reply-To, Subject, Date, To, Cc, Message-ID, In-Reply-To,
// References, the MIME fields, Resent-*, List-* and List-Unsubscribe-Post (RFC 8058 §4 requires
// it to be signed) — and only those present, so lists that add List-* fields do not break it.
// Trace fields (Received, Return-Path) are never signed: they change in transit (§5.4.1).
//
// Oversigning (RFC 6376 §5.4.2 and §8.15): From is listed in h= once more than it occurs. The
// extra entry matches no field and hashes as nothing, so the signature breaks if anyone later
// adds a second From (the classic trick to make a reader see a different sender than DMARC
// checked). Any field may be oversigned through `oversign`.
//
// mailauth 7.1's dkimSign signs exactly the fields present and has no way to list a name in h=
// more often, so with oversigning we compute the body hash with mailauth's body canonicalizer
// (the code its dkimSign runs) and canonicalize and sign the header here (RFC 6376 §3.4.2, §3.7;
// RFC 8463 §3 for Ed25519). With `oversign: []` the whole signature is mailauth's dkimSign.
// Both paths are verified in the tests by mailauth's verifier and by dkimpy.
import { createHash, createPrivateKey, sign as cryptoSign } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { createRequire } from "node:module";
import type * as DkimSignModule from "mailauth/lib/dkim/sign.js";
import { lazyRequire } from "../lazy.ts";
import type { DkimKeyType } from "./dkim-keys.ts";

// Loaded on the first signature, not at start (src/lazy.ts).
const dkimSignModule = lazyRequire<typeof DkimSignModule>("mailauth/lib/dkim/sign.js");

interface BodyHasher {
  update(chunk: Buffer): void;
  digest(encoding: "base64"): string;
}
// Not part of mailauth's typed API; stable since mailauth 4. The signing tests fail if it moves.
const { dkimBody } = createRequire(import.meta.url)("mailauth/lib/dkim/body/index.js") as {
  dkimBody: (canonicalization: string, algorithm: string, maxBodyLength: false) => BodyHasher;
};

export interface DkimSigningKey {
  /** d=, lower-case A-labels. */
  domain: string;
  selector: string;
  type: DkimKeyType;
  privateKeyPem: string;
  /** The key already parsed (DkimService keeps one per selector), saving a PEM parse per message. */
  privateKey?: KeyObject;
}

/** RFC 6376 §5.4.1's list, plus Message-ID, MIME fields and List-Unsubscribe-Post. */
export const SIGNED_HEADER_FIELDS: readonly string[] = [
  "From", "Sender", "Reply-To", "Subject", "Date", "Message-ID", "To", "Cc",
  "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Content-ID", "Content-Description",
  "Resent-Date", "Resent-From", "Resent-Sender", "Resent-To", "Resent-Cc", "Resent-Message-ID",
  "In-Reply-To", "References",
  "List-Id", "List-Help", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Subscribe", "List-Post",
  "List-Owner", "List-Archive",
];

export const OVERSIGNED_HEADER_FIELDS: readonly string[] = ["From"];

export interface DkimSignOptions {
  /** Signature time (t=), ms since the epoch, from the injected clock. */
  now: number;
  /** Fields to sign when present; default SIGNED_HEADER_FIELDS. */
  headers?: readonly string[];
  /** Fields listed once more than present; default ["From"]. Empty: plain mailauth dkimSign. */
  oversign?: readonly string[];
}

export interface DkimSignResult {
  /** DKIM-Signature fields, each ending in CRLF, to put in front of the message. */
  header: string;
  /** Keys that could not sign, and why (the message still goes out with the others). */
  errors: { selector: string; domain: string; message: string }[];
}

interface RawField {
  key: string;
  /** The whole field, name to last line ending excluded, folding kept. */
  raw: string;
}

function splitMessage(message: Buffer): { header: string; body: Buffer } {
  const crlf = message.indexOf("\r\n\r\n");
  const lf = message.indexOf("\n\n");
  let end: number;
  let bodyStart: number;
  if (crlf >= 0 && (lf < 0 || crlf <= lf)) {
    end = crlf + 2;
    bodyStart = crlf + 4;
  } else if (lf >= 0) {
    end = lf + 1;
    bodyStart = lf + 2;
  } else {
    end = bodyStart = message.length;
  }
  // latin1 keeps one char per byte, so 8-bit header bytes hash as they are.
  return { header: message.toString("latin1", 0, end), body: message.subarray(bodyStart) };
}

function parseFields(header: string): RawField[] {
  const out: RawField[] = [];
  for (const line of header.split(/\r?\n/)) {
    if (line === "") continue;
    if ((line[0] === " " || line[0] === "\t") && out.length > 0) {
      out[out.length - 1].raw += "\r\n" + line;
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    out.push({ key: line.slice(0, colon).replace(/[ \t]+$/, "").toLowerCase(), raw: line });
  }
  return out;
}

/** RFC 6376 §3.4.2 relaxed header canonicalization of one field, without the CRLF. */
export function relaxedHeader(raw: string): string {
  const colon = raw.indexOf(":");
  // Only SP and HTAB are WSP: String.trim would also eat byte 0xA0 of a latin1 string.
  const name = raw.slice(0, colon).replace(/^[ \t]+|[ \t]+$/g, "").toLowerCase();
  const value = raw
    .slice(colon + 1)
    .replace(/\r?\n/g, "") // unfold
    .replace(/[ \t]+/g, " ") // WSP runs to one SP
    .replace(/^ | $/g, ""); // no WSP at the ends of the value
  return `${name}:${value}`;
}

/**
 * The h= list: each wanted name once per occurrence, oversigned names once more. Names keep
 * the case given in `wanted`; matching is case-insensitive (RFC 6376 §3.5 h=).
 */
export function headerList(fields: readonly { key: string }[], wanted: readonly string[], oversign: readonly string[]): string[] {
  const over = new Set(oversign.map((n) => n.toLowerCase()));
  const names: string[] = [];
  const seen = new Set<string>();
  for (const name of [...wanted, ...oversign]) {
    const key = name.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    const count = fields.filter((f) => f.key === key).length + (over.has(key) ? 1 : 0);
    for (let i = 0; i < count; i++) names.push(name);
  }
  return names;
}

/**
 * RFC 6376 §5.4.2: for each name in h=, the last not yet used instance of that field, from the
 * bottom up; a name with no instance left contributes nothing (that is what oversigning uses).
 */
function selectFields(fields: readonly RawField[], names: readonly string[]): RawField[] {
  const used = new Set<number>();
  const out: RawField[] = [];
  for (const name of names) {
    const key = name.toLowerCase();
    for (let i = fields.length - 1; i >= 0; i--) {
      if (!used.has(i) && fields[i].key === key) {
        used.add(i);
        out.push(fields[i]);
        break;
      }
    }
  }
  return out;
}

function fold(prefix: string, items: readonly string[], sep: string, width = 76): string {
  let out = "";
  let line = prefix;
  items.forEach((item, i) => {
    const piece = item + (i < items.length - 1 ? sep : "");
    if (line.length + piece.length > width && line.trim() !== "") {
      out += line + "\r\n";
      line = "\t";
    }
    line += piece;
  });
  return out + line;
}

function signOne(key: DkimSigningKey, fields: readonly RawField[], bh: string, opts: Required<Pick<DkimSignOptions, "now">> & { names: string[] }): string {
  const algo = key.type === "rsa" ? "rsa-sha256" : "ed25519-sha256";
  const t = Math.floor(opts.now / 1000);
  // Tags in the order mailauth and OpenDKIM write them; b= last so its value can be folded
  // freely (its whitespace is removed before verification, RFC 6376 §3.5).
  const head =
    `DKIM-Signature: v=1; a=${algo}; c=relaxed/relaxed; d=${key.domain}; s=${key.selector};\r\n` +
    `\tt=${t}; ` +
    fold("h=", opts.names, ":") +
    `;\r\n\tbh=${bh};\r\n\tb=`;
  // RFC 6376 §3.7: the selected fields canonicalized, each with CRLF, then the signature
  // field itself with an empty b= and without the final CRLF.
  const data =
    selectFields(fields, opts.names)
      .map((f) => relaxedHeader(f.raw) + "\r\n")
      .join("") + relaxedHeader(head);
  const pk = key.privateKey ?? createPrivateKey(key.privateKeyPem);
  const input = Buffer.from(data, "latin1");
  const sig =
    key.type === "rsa"
      ? cryptoSign("sha256", input, pk)
      : // RFC 8463 §3: Ed25519 signs the SHA-256 hash of the data (PureEdDSA over the digest).
        cryptoSign(null, createHash("sha256").update(input).digest(), pk);
  const b64 = sig.toString("base64");
  const chunks = b64.match(/.{1,72}/g) ?? [];
  return head + chunks.join("\r\n\t") + "\r\n";
}

/**
 * Signs `message` (header and body as they will be sent, CRLF line endings) with each key.
 * Returns the DKIM-Signature fields to prepend.
 */
export async function signMessage(message: Buffer, keys: readonly DkimSigningKey[], opts: DkimSignOptions): Promise<DkimSignResult> {
  const wanted = opts.headers ?? SIGNED_HEADER_FIELDS;
  const oversign = opts.oversign ?? OVERSIGNED_HEADER_FIELDS;
  const errors: DkimSignResult["errors"] = [];
  if (keys.length === 0) return { header: "", errors };

  if (oversign.length === 0) {
    const res = await dkimSignModule().dkimSign(message, {
      // The typings want one signature's fields at the top; the signer reads signatureData.
      signingDomain: keys[0].domain,
      selector: keys[0].selector,
      privateKey: keys[0].privateKeyPem,
      canonicalization: "relaxed/relaxed",
      signTime: new Date(opts.now),
      headerList: [...wanted],
      strict: true,
      signatureData: keys.map((k) => ({
        signingDomain: k.domain,
        selector: k.selector,
        privateKey: k.privateKeyPem,
        algorithm: k.type === "rsa" ? "rsa-sha256" : "ed25519-sha256",
        canonicalization: "relaxed/relaxed",
      })),
    });
    for (const e of res.errors) {
      const err = e as { selector?: string; signingDomain?: string; err?: Error };
      errors.push({ selector: err.selector ?? "", domain: err.signingDomain ?? "", message: err.err?.message ?? "signing failed" });
    }
    return { header: res.signatures, errors };
  }

  const { header, body } = splitMessage(message);
  const fields = parseFields(header);
  const hasher = dkimBody("relaxed/relaxed", "sha256", false);
  hasher.update(body);
  const bh = hasher.digest("base64");
  const names = headerList(fields, wanted, oversign);
  let out = "";
  for (const key of keys) {
    try {
      out += signOne(key, fields, bh, { now: opts.now, names });
    } catch (err) {
      errors.push({ selector: key.selector, domain: key.domain, message: (err as Error).message });
    }
  }
  return { header: out, errors };
}
