// The verdict policy: signals → points → a score per recipient → INBOX, Junk or a 550 at the end
// of DATA. Pure: everything it needs comes in as values.
//
// Points are on SpamAssassin's scale (5 is "probably spam"), so an rspamd score can be added as
// it is. The classifier alone is worth at most ±6: it can file into Junk but never reject on its
// own; a rejection needs evidence from the network (blocklists, authentication) as well.

export type AuthResult = "pass" | "fail" | "softfail" | "neutral" | "none" | "temperror" | "permerror" | "policy" | string;

/** A blocklist answer: listed (with the answer's A records), clean, or unknown (no usable answer). */
export type { ListResult } from "../dnsbl/dnsbl.ts";
import type { ListResult } from "../dnsbl/dnsbl.ts";

export interface Signals {
  gtube: boolean;
  spf: AuthResult;
  dkim: AuthResult;
  dmarc: AuthResult;
  arc: AuthResult;
  /** Zone → result for the client IP. */
  dnsbl: Record<string, ListResult>;
  /** "domain@zone" → result, only the listed and unknown ones kept. */
  domainLists: Record<string, ListResult>;
  fcrdns: "pass" | "fail" | "unknown" | "skipped";
  /** HELO plausibility: ok, or why not. */
  helo: "ok" | "ip-literal-mismatch" | "not-fqdn" | "ours" | "localhost" | "mismatch" | "skipped";
  /** The greeting was held (pregreet test) and the client waited; "skipped" when not tested. */
  pregreet: "passed" | "skipped";
  /** Identical bodies seen in the bulk window (this one included). */
  bulkCount: number;
  /** The filter's own bound was hit (parts, bytes): fewer tokens than the message has. */
  limited: boolean;
  /** rspamd's score, when it answered. */
  rspamd: number | null;
}

/** What the account's history says about this sender (reputation.ts). */
export interface RecipientView {
  /** Bayesian spam probability for this account, or null when untrained. */
  bayes: number | null;
  /** The user wrote to / replied to the sender, or kept their mail: never reject, keep. */
  trusted: boolean;
  /** The user junked this sender's mail before (decayed count). */
  junked: number;
  /** Nothing from this sender (address) reached the account before. */
  firstTime: boolean;
}

export interface Thresholds {
  /** At or above: file into Junk. */
  junk: number;
  /** At or above: refuse at the end of DATA (550 5.7.1), unless trusted. */
  reject: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = { junk: 5, reject: 12 };

export const POINTS = {
  gtube: 1000,
  dnsblListed: 3,
  /** Spamhaus ZEN carries more weight (its policy lists are precise). */
  zenListed: 4,
  domainListed: 4,
  fcrdnsFail: 1.5,
  heloBad: 1.5,
  spfFail: 2,
  spfSoftfail: 1,
  dkimPass: -0.5,
  dmarcPass: -1,
  dmarcFail: 3,
  bulkPerCopy: 0.2,
  bulkMax: 3,
  bulkFrom: 5,
  firstTime: 0.5,
  junkedSender: 3,
  trusted: -5,
  bayesScale: 12,
} as const;

export interface Scored {
  score: number;
  /** Which rules gave how many points (for the header and the log). */
  rules: Record<string, number>;
}

/** Points from the message's signals alone (the same for every recipient). */
export function scoreSignals(s: Signals): Scored {
  const rules: Record<string, number> = {};
  const add = (name: string, p: number): void => {
    if (p !== 0) rules[name] = Math.round(((rules[name] ?? 0) + p) * 100) / 100;
  };
  if (s.gtube) add("GTUBE", POINTS.gtube);
  for (const [zone, r] of Object.entries(s.dnsbl)) {
    if (r.state === "listed") add(`DNSBL:${zone}`, /spamhaus/.test(zone) ? POINTS.zenListed : POINTS.dnsblListed);
  }
  // One hit per list counts: many URLs on one list are not more evidence than one.
  const zonesHit = new Set<string>();
  for (const [key, r] of Object.entries(s.domainLists)) {
    const zone = key.slice(key.indexOf("@") + 1);
    if (r.state === "listed" && !zonesHit.has(zone)) {
      zonesHit.add(zone);
      add(`URIBL:${zone}`, POINTS.domainListed);
    }
  }
  if (s.fcrdns === "fail") add("NO_FCRDNS", POINTS.fcrdnsFail);
  if (s.helo !== "ok" && s.helo !== "skipped") add(`HELO:${s.helo}`, POINTS.heloBad);
  if (s.spf === "fail") add("SPF_FAIL", POINTS.spfFail);
  if (s.spf === "softfail") add("SPF_SOFTFAIL", POINTS.spfSoftfail);
  if (s.dkim === "pass") add("DKIM_PASS", POINTS.dkimPass);
  if (s.dmarc === "pass") add("DMARC_PASS", POINTS.dmarcPass);
  if (s.dmarc === "fail") add("DMARC_FAIL", POINTS.dmarcFail);
  if (s.bulkCount >= POINTS.bulkFrom) add("BULK", Math.min(POINTS.bulkMax, (s.bulkCount - POINTS.bulkFrom + 1) * POINTS.bulkPerCopy));
  if (s.rspamd !== null) add("RSPAMD", s.rspamd);
  const score = Object.values(rules).reduce((a, b) => a + b, 0);
  return { score: Math.round(score * 100) / 100, rules };
}

/** Points the classifier gives: 12·(p - 0.5), i.e. -6 … +6. */
export function bayesPoints(p: number | null): number {
  return p === null ? 0 : POINTS.bayesScale * (p - 0.5);
}

/** The whole score for one recipient. */
export function scoreFor(base: Scored, view: RecipientView): Scored {
  const rules = { ...base.rules };
  let score = base.score;
  const add = (name: string, p: number): void => {
    if (p === 0) return;
    const r = Math.round(p * 100) / 100;
    rules[name] = r;
    score += r;
  };
  add("BAYES", bayesPoints(view.bayes));
  if (view.firstTime) add("FIRST_TIME", POINTS.firstTime);
  if (view.junked > 0) add("JUNKED_SENDER", POINTS.junkedSender * Math.min(1, view.junked));
  if (view.trusted) add("TRUSTED", POINTS.trusted);
  return { score: Math.round(score * 100) / 100, rules };
}

export type Action = "inbox" | "junk" | "reject";

export interface RecipientVerdict {
  action: Action;
  score: number;
  rules: Record<string, number>;
}

/**
 * One recipient's action. A trusted sender is never rejected and never filed into Junk, except
 * for GTUBE, which always counts as spam (it still is not rejected for a trusted sender).
 */
export function decideFor(scored: Scored, view: RecipientView, t: Thresholds): RecipientVerdict {
  const gtube = "GTUBE" in scored.rules;
  let action: Action = "inbox";
  if (scored.score >= t.reject && !view.trusted) action = "reject";
  else if (scored.score >= t.junk && (!view.trusted || gtube)) action = "junk";
  return { action, score: scored.score, rules: scored.rules };
}

/**
 * The message's fate with several recipients: refused at the end of DATA only when every
 * recipient's policy refuses it (a refusal is for the whole transaction); otherwise each
 * recipient the policy would refuse gets it in Junk instead, the others as decided.
 */
export function decideAll(verdicts: readonly RecipientVerdict[]): { reject: boolean; perRecipient: RecipientVerdict[] } {
  if (verdicts.length > 0 && verdicts.every((v) => v.action === "reject")) return { reject: true, perRecipient: [...verdicts] };
  return { reject: false, perRecipient: verdicts.map((v) => (v.action === "reject" ? { ...v, action: "junk" } : v)) };
}

/** The thresholds for a recipient: user over domain over server defaults, key by key. */
export function thresholdsFor(
  address: string,
  base: Thresholds,
  domains: Record<string, Partial<Thresholds>>,
  users: Record<string, Partial<Thresholds>>,
): Thresholds {
  const a = address.toLowerCase();
  const domain = a.slice(a.lastIndexOf("@") + 1);
  return { ...base, ...(domains[domain] ?? {}), ...(users[a] ?? {}) };
}

/** The X-Freehold-Spam header field's value: verdict, score and every rule that counted. */
export function headerValue(v: RecipientVerdict, extra: Record<string, string>): string {
  const rules = Object.entries(v.rules)
    .map(([k, p]) => `${k}=${p}`)
    .join(" ");
  const info = Object.entries(extra)
    .map(([k, x]) => `${k}=${x}`)
    .join(" ");
  return `${v.action} score=${v.score}${rules ? `; rules: ${rules}` : ""}${info ? `; ${info}` : ""}`;
}
