// ACME Renewal Information, ARI (RFC 9773): the CA suggests a window in which to renew.
// Pure parts (certID, window parsing, the choice in the window, Retry-After) and one HTTP GET
// to the ACME directory's host, through the same lookup (the one Resolver) and trust as the
// ACME client. Any failure leaves the caller on its own rule (policy.ts renewAt).
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { X509Certificate } from "node:crypto";

// ---- A minimal DER walk (X.690 §8.1: identifier, length, contents) ----

interface Tlv {
  tag: number;
  start: number; // first content byte
  end: number; // one past the last content byte
}

function tlv(buf: Buffer, pos: number, limit = buf.length): Tlv {
  if (pos + 2 > limit) throw new Error("DER: truncated");
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) throw new Error("DER: high tag numbers not expected here");
  let len = buf[pos + 1]!;
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > limit) throw new Error("DER: bad length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
  }
  if (p + len > limit) throw new Error("DER: length beyond the end");
  return { tag, start: p, end: p + len };
}

function children(buf: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.start; p < parent.end; ) {
    const t = tlv(buf, p, parent.end);
    out.push(t);
    p = t.end;
  }
  return out;
}

// id-ce-authorityKeyIdentifier, 2.5.29.35 (RFC 5280 §4.2.1.1), DER-encoded OID contents.
const OID_AKI = Buffer.from([0x55, 0x1d, 0x23]);

/** The certificate's serial number (DER contents, as in the certificate) and AKI keyIdentifier. */
export function certParts(der: Buffer): { serial: Buffer; keyIdentifier: Buffer } {
  // RFC 5280 §4.1: Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
  const cert = tlv(der, 0);
  if (cert.tag !== 0x30) throw new Error("not a certificate");
  const tbs = children(der, cert)[0];
  if (!tbs || tbs.tag !== 0x30) throw new Error("no tbsCertificate");
  const fields = children(der, tbs);
  let i = 0;
  if (fields[0]?.tag === 0xa0) i++; // version [0] EXPLICIT
  const serialTlv = fields[i];
  if (!serialTlv || serialTlv.tag !== 0x02) throw new Error("no serial number");
  const serial = der.subarray(serialTlv.start, serialTlv.end);
  // extensions [3] EXPLICIT Extensions (SEQUENCE OF Extension)
  const extsWrap = fields.find((f) => f.tag === 0xa3);
  if (!extsWrap) throw new Error("no extensions");
  const exts = children(der, extsWrap)[0];
  if (!exts || exts.tag !== 0x30) throw new Error("bad extensions");
  for (const ext of children(der, exts)) {
    // Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
    const parts = children(der, ext);
    const oid = parts[0];
    if (!oid || oid.tag !== 0x06 || !der.subarray(oid.start, oid.end).equals(OID_AKI)) continue;
    const value = parts[parts.length - 1];
    if (!value || value.tag !== 0x04) throw new Error("bad AKI extension");
    // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL, ... }
    const aki = tlv(der, value.start, value.end);
    if (aki.tag !== 0x30) throw new Error("bad AKI");
    const kid = children(der, aki).find((c) => c.tag === 0x80);
    if (!kid) throw new Error("AKI without keyIdentifier");
    return { serial, keyIdentifier: der.subarray(kid.start, kid.end) };
  }
  throw new Error("no AuthorityKeyIdentifier extension");
}

/** RFC 9773 §4.1: base64url(AKI keyIdentifier) "." base64url(serial DER contents), no padding. */
export function certId(cert: X509Certificate | string | Buffer): string {
  const x = cert instanceof X509Certificate ? cert : new X509Certificate(cert);
  const { serial, keyIdentifier } = certParts(x.raw);
  return `${keyIdentifier.toString("base64url")}.${serial.toString("base64url")}`;
}

// ---- The RenewalInfo object (RFC 9773 §4.2) ----

export interface RenewalWindow {
  start: number;
  end: number;
  explanationURL?: string;
}

/** Strict: a JSON object with suggestedWindow {start, end} (RFC 3339), end > start; anything else null. */
export function parseRenewalInfo(text: string): RenewalWindow | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) return null;
  const w = (v as Record<string, unknown>).suggestedWindow;
  if (!w || typeof w !== "object" || Array.isArray(w)) return null;
  const { start, end } = w as Record<string, unknown>;
  if (typeof start !== "string" || typeof end !== "string") return null;
  const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
  if (!rfc3339.test(start) || !rfc3339.test(end)) return null;
  const s = Date.parse(start);
  const e = Date.parse(end);
  if (!Number.isFinite(s) || !Number.isFinite(e) || e <= s) return null;
  const out: RenewalWindow = { start: s, end: e };
  const ex = (v as Record<string, unknown>).explanationURL;
  if (typeof ex === "string" && /^https?:\/\//i.test(ex)) out.explanationURL = ex;
  return out;
}

/** §4.2: a uniformly random time in [start, end); the window's end already past → now. */
export function chooseInWindow(w: RenewalWindow, now: number, rand: number): number {
  if (w.end <= now) return now;
  const r = Math.min(Math.max(rand, 0), 1 - Number.EPSILON);
  return Math.floor(w.start + r * (w.end - w.start));
}

export const ARI_POLL_MIN_MS = 3600_000;
export const ARI_POLL_MAX_MS = 86_400_000;
/** Without a Retry-After, ask again after this long (within the clamp). */
export const ARI_POLL_DEFAULT_MS = 6 * 3600_000;

/** §4.3: Retry-After (delta-seconds or an HTTP-date, RFC 9110 §10.2.3), clamped to [1 h, 1 day]. */
export function retryAfterMs(header: string | undefined, now: number): number {
  let ms = ARI_POLL_DEFAULT_MS;
  const h = header?.trim();
  if (h) {
    if (/^\d+$/.test(h)) ms = Number(h) * 1000;
    else {
      const t = Date.parse(h);
      if (Number.isFinite(t)) ms = t - now;
    }
  }
  return Math.min(ARI_POLL_MAX_MS, Math.max(ARI_POLL_MIN_MS, ms));
}

// ---- The fetch ----

export interface HttpResponse {
  status: number;
  headers: Record<string, string | undefined>;
  body: string;
}

export interface GetOptions {
  lookup?: LookupFunction;
  ca?: string[];
  timeoutMs?: number;
}

/** One GET (http: or https:), names resolved by `lookup` (the Resolver), body capped at 64 KiB. */
export function httpGet(url: string, opts: GetOptions = {}): Promise<HttpResponse> {
  const u = new URL(url);
  const mod = u.protocol === "https:" ? https : u.protocol === "http:" ? http : null;
  if (!mod) return Promise.reject(new Error(`unsupported URL scheme ${u.protocol}`));
  return new Promise((resolve, reject) => {
    const req = mod.get(u, { ...(opts.lookup ? { lookup: opts.lookup } : {}), ...(opts.ca ? { ca: opts.ca } : {}), headers: { accept: "application/json" } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > 65536) req.destroy(new Error("response too large"));
        else chunks.push(c);
      });
      res.on("end", () => {
        const headers: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries(res.headers)) headers[k] = Array.isArray(v) ? v.join(", ") : v;
        resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString("utf8") });
      });
      res.on("error", reject);
    });
    req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

export interface AriResult {
  window: RenewalWindow;
  /** The chosen renewal time. */
  at: number;
  /** When to ask again (now + clamped Retry-After). */
  nextPollAt: number;
}

/**
 * The directory's renewalInfo URL (RFC 9773 §3), or null when the CA offers none. Throws on any
 * failure (network, status, bad JSON, a renewalInfo URL on another host than the directory).
 */
export async function renewalInfoUrl(directoryUrl: string, opts: GetOptions = {}): Promise<string | null> {
  const dirRes = await httpGet(directoryUrl, opts);
  if (dirRes.status !== 200) throw new Error(`directory: HTTP ${dirRes.status}`);
  const dir = JSON.parse(dirRes.body) as Record<string, unknown>;
  const base = dir.renewalInfo;
  if (base === undefined) return null;
  if (typeof base !== "string") throw new Error("directory: renewalInfo is not a string");
  const bu = new URL(base);
  if (bu.host !== new URL(directoryUrl).host) throw new Error(`renewalInfo on another host (${bu.host}) than the directory`);
  return base;
}

/**
 * The ARI decision for one certificate: the directory's renewalInfo (null when the CA offers none),
 * GET <renewalInfo>/<certID>, a time in the window. Only the directory's host is contacted.
 * Throws on any failure (as renewalInfoUrl, and the renewalInfo answer's status or body).
 */
export async function fetchAri(directoryUrl: string, cert: X509Certificate | string | Buffer, now: number, rand: number, opts: GetOptions = {}): Promise<AriResult | null> {
  const base = await renewalInfoUrl(directoryUrl, opts);
  if (base === null) return null;
  const url = `${base.replace(/\/+$/, "")}/${certId(cert)}`;
  const res = await httpGet(url, opts);
  if (res.status !== 200) throw new Error(`renewalInfo: HTTP ${res.status}`);
  const window = parseRenewalInfo(res.body);
  if (!window) throw new Error("renewalInfo: not a valid RenewalInfo object");
  return { window, at: chooseInWindow(window, now, rand), nextPollAt: now + retryAfterMs(res.headers["retry-after"], now) };
}

/**
 * The renewal time with ARI: min(the ARI choice, `ruleAt`). The choice is kept until the
 * Retry-After has passed; any failure → `ruleAt` alone, logged once (at info) until ARI works again.
 */
export interface AriScheduleOptions {
  directoryUrl: string;
  /** The lookup (the Resolver) and trust the ACME client uses. */
  get?: () => Promise<GetOptions>;
  random?: () => number;
  logInfo: (fields: Record<string, unknown>, msg: string) => void;
}

/** When the certificate is renewed, and why (shown by GET /api/v1/status). */
export interface RenewalPlan {
  at: number;
  reason: string;
}
export const RULE_REASON = "one-third rule";

export class AriSchedule {
  #cache: { id: string; result: AriResult } | null = null;
  #failing = false;
  #noAriUntil = 0;
  readonly opts: AriScheduleOptions;
  constructor(opts: AriScheduleOptions) {
    this.opts = opts;
  }

  async renewAt(ruleAt: number, certPem: string | Buffer, now: number): Promise<number> {
    return (await this.plan(ruleAt, certPem, now)).at;
  }

  /** renewAt with the reason: "ari window <start> – <end>" when the ARI choice is earlier, else "one-third rule". */
  async plan(ruleAt: number, certPem: string | Buffer, now: number): Promise<RenewalPlan> {
    const at = await this.#renewAt(ruleAt, certPem, now);
    const w = this.#cache?.result;
    if (w && at === w.at && at < ruleAt) return { at, reason: `ari window ${new Date(w.window.start).toISOString()} – ${new Date(w.window.end).toISOString()}` };
    return { at, reason: RULE_REASON };
  }

  async #renewAt(ruleAt: number, certPem: string | Buffer, now: number): Promise<number> {
    let id: string;
    try {
      id = certId(certPem);
    } catch (err) {
      return this.#fail(ruleAt, err);
    }
    if (this.#cache?.id === id && now < this.#cache.result.nextPollAt) return Math.min(ruleAt, this.#cache.result.at);
    if (now < this.#noAriUntil) return ruleAt; // the directory had no renewalInfo: ask it again daily
    try {
      const opts = (await this.opts.get?.()) ?? {};
      const r = await fetchAri(this.opts.directoryUrl, certPem, now, (this.opts.random ?? Math.random)(), opts);
      if (!r) {
        if (this.#noAriUntil === 0) this.opts.logInfo({ directory: this.opts.directoryUrl }, "acme: the CA offers no ARI (renewalInfo); renewing by the one-third rule");
        this.#noAriUntil = now + ARI_POLL_MAX_MS;
        this.#cache = null;
        return ruleAt;
      }
      // A cached choice inside the same window stays (no re-draw on every poll).
      const old = this.#cache?.id === id ? this.#cache.result : null;
      if (old && old.window.start === r.window.start && old.window.end === r.window.end && r.window.end > now) r.at = old.at;
      this.#cache = { id, result: r };
      this.#failing = false;
      this.#noAriUntil = 0;
      return Math.min(ruleAt, r.at);
    } catch (err) {
      this.#cache = null;
      return this.#fail(ruleAt, err);
    }
  }

  #fail(ruleAt: number, err: unknown): number {
    if (!this.#failing) this.opts.logInfo({ err: (err as Error).message ?? String(err) }, "acme: ARI lookup failed; renewing by the one-third rule");
    this.#failing = true;
    return ruleAt;
  }
}

// ---- "replaces" in newOrder (RFC 9773 §5) ----

/** Does the directory offer renewalInfo (RFC 9773 §3)? Any failure → false (no "replaces" then). */
export async function offersAri(directoryUrl: string, opts: GetOptions = {}): Promise<boolean> {
  return renewalInfoUrl(directoryUrl, opts).then((u) => u !== null, () => false);
}

/**
 * A CA's refusal of the "replaces" field: §7.4 alreadyReplaced, or any error naming it. acme-client
 * keeps only the problem's detail in the message, not its type, so this matches the text.
 */
export function refusesReplaces(err: unknown): boolean {
  const msg = (err as Error)?.message ?? String(err);
  return /replace/i.test(msg);
}

interface OrderingClient {
  // acme-client's Client.createOrder: the payload goes to newOrder as it is.
  createOrder(data: Record<string, unknown>): Promise<unknown>;
}

/**
 * §5: the client's newOrder requests carry "replaces": <certID> of the certificate being renewed.
 * A CA that refuses it (already replaced, unknown certID, another account's certificate) gets the
 * same order once more without it, logged; an order that fails otherwise fails as it is.
 */
export function orderReplacing(client: OrderingClient, replaces: string, logInfo: (fields: Record<string, unknown>, msg: string) => void): void {
  const original = client.createOrder.bind(client);
  client.createOrder = async (data) => {
    try {
      return await original({ ...data, replaces });
    } catch (err) {
      if (!refusesReplaces(err)) throw err;
      logInfo({ replaces, err: (err as Error).message ?? String(err) }, "acme: the CA refused \"replaces\" (RFC 9773 §5); ordering again without it");
      return original(data);
    }
  };
}
