// ARC sealing of mail we forward (RFC 8617), so the next hop can see what our MX found when the
// message arrived (SPF, DKIM, DMARC) even though forwarding breaks SPF and may break DMARC.
//
// One ARC set per forward, made with mailauth's createSeal on the bytes as they leave (our trace
// fields on top of the stored message):
//   ARC-Authentication-Results  i=N; our Authentication-Results from the MX, taken from the
//                               entry's trace fields (we wrote them; forged ones were stripped
//                               on the way in, src/emailauth/strip-ar.ts)
//   ARC-Message-Signature       a DKIM-like signature of the message as forwarded (§4.1.2)
//   ARC-Seal                    over the chain, with cv= from our own ARC verdict (§4.1.3)
// Key: the active RSA DKIM key of the forwarding address's domain (the Delivered-To on top of
// the trace fields), else of its nearest parent domain that has one. RSA because RFC 8617 §4.1.3
// defines rsa-sha256 for ARC and few validators take Ed25519 there.
// Not sealed (logged, the message still goes): no key; our verdict was arc=fail (RFC 8617 §5.1:
// a failed chain is not continued with cv=pass, and mailauth, like most sealers, does not add
// cv=fail sets); or the chain already has 50 sets (§4.2.1).
import type * as ArcModule from "mailauth/lib/arc/index.js";
import { lazyRequire } from "../lazy.ts";

// Loaded on the first forward that is sealed, not at start (src/lazy.ts).
const arcModule = lazyRequire<typeof ArcModule>("mailauth/lib/arc/index.js");
import type { DkimSigningKey } from "../emailauth/dkim-sign.ts";

export interface ArcSealer {
  /** Active DKIM keys of a domain (DkimService.signingKeys). */
  signingKeys(domain: string): DkimSigningKey[];
  /** Used when the trace fields hold no Authentication-Results (a re-forward from the queue). */
  authservId: string;
}

export type ArcSealResult = { sealed: true; headers: string; domain: string; instance: number } | { sealed: false; reason: string };

/** Unfolded header fields of a CRLF-terminated block, in order. */
function fields(block: string): Array<{ name: string; value: string }> {
  const out: Array<{ name: string; value: string }> = [];
  for (const line of block.split("\r\n")) {
    if (line === "") continue;
    if ((line[0] === " " || line[0] === "\t") && out.length > 0) {
      out[out.length - 1].value += line;
      continue;
    }
    const c = line.indexOf(":");
    if (c > 0) out.push({ name: line.slice(0, c).trim().toLowerCase(), value: line.slice(c + 1) });
  }
  return out;
}

/** The domain to seal for: the top Delivered-To of our trace fields. */
export function forwardingDomain(traceHeaders: string): string | null {
  const dt = fields(traceHeaders).find((f) => f.name === "delivered-to");
  const addr = dt?.value.trim().replace(/^<|>$/g, "");
  const at = addr ? addr.lastIndexOf("@") : -1;
  return addr && at > 0 ? addr.slice(at + 1).toLowerCase() : null;
}

/**
 * RFC 8617 §4.1.1: the ARC-Authentication-Results payload is the Authentication-Results
 * payload (authserv-id; resinfo...). Our MX's field is the first one in the trace fields.
 */
export function authResultsPayload(traceHeaders: string, authservId: string): string {
  const ar = fields(traceHeaders).find((f) => f.name === "authentication-results");
  return ar ? ar.value.replace(/[ \t]+/g, " ").trim() : `${authservId}; none`;
}

/** Our own ARC verdict, from the arc= entry of our Authentication-Results. */
function arcVerdict(payload: string): "none" | "pass" | "fail" {
  const m = /(?:^|;)\s*arc=(\w+)/i.exec(payload);
  const r = m?.[1].toLowerCase();
  return r === "pass" ? "pass" : r === "fail" ? "fail" : "none";
}

function keyFor(sealer: ArcSealer, domain: string): DkimSigningKey | null {
  const labels = domain.split(".");
  // The domain itself, then its parents down to two labels (mx.example.com → example.com).
  for (let i = 0; i <= labels.length - 2; i++) {
    const d = labels.slice(i).join(".");
    const k = sealer.signingKeys(d).find((x) => x.type === "rsa");
    if (k) return k;
  }
  return null;
}

/**
 * The ARC set to put on top of `content` (trace fields + stored message, as it will be sent),
 * or why there is none.
 */
export async function arcSeal(content: Buffer, traceHeaders: string, sealer: ArcSealer, now: number): Promise<ArcSealResult> {
  const domain = forwardingDomain(traceHeaders);
  if (!domain) return { sealed: false, reason: "no Delivered-To in the trace fields" };
  const key = keyFor(sealer, domain);
  if (!key) return { sealed: false, reason: `no active RSA DKIM key for ${domain} or its parent domains` };
  const payload = authResultsPayload(traceHeaders, sealer.authservId);
  const verdict = arcVerdict(payload);
  if (verdict === "fail") return { sealed: false, reason: "the incoming ARC chain failed validation" };
  const res = await arcModule().createSeal(content, {
    seal: {
      signingDomain: key.domain,
      selector: key.selector,
      privateKey: key.privateKeyPem,
      algorithm: "rsa-sha256",
      authResults: payload,
      // RFC 8617 §5.1.1 step 2 / §4.4: cv=none for the first set, else the state of the chain
      // we validated. mailauth derives i= from the sets present.
      ...(verdict === "pass" ? { cv: "pass" } : {}),
      signTime: new Date(now),
    },
  });
  if (res.headers.length === 0) return { sealed: false, reason: res.errors.map((e) => String((e as { err?: Error }).err?.message ?? e)).join("; ") || "sealing failed" };
  const instance = Number(/\bi=(\d+)/.exec(res.headers[0])?.[1] ?? 0);
  return { sealed: true, headers: res.headers.join("\r\n") + "\r\n", domain: key.domain, instance };
}
