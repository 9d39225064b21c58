// The DMARC policy to apply to a message that failed DMARC. mailauth 7 follows RFC 9989
// (DMARCbis): it chooses p, sp (RFC 7489 §6.3) or np (RFC 9091 §4) for the author domain and
// applies t=y, but it no longer samples by pct, which RFC 7489 §6.6.4 still asks of receivers
// and which many published records use. This file adds pct, with injected randomness.
export type DmarcPolicy = "none" | "quarantine" | "reject";

/** RFC 7489 §6.6.4: a message not selected by pct gets the next weaker policy. */
const WEAKER: Record<DmarcPolicy, DmarcPolicy> = { reject: "quarantine", quarantine: "none", none: "none" };

/**
 * The pct tag of a DMARC record (RFC 7489 §6.3: `"pct" *WSP "=" *WSP 1*3DIGIT`, 0 to 100,
 * default 100). A missing or invalid value gives 100, as §6.3 says invalid tags are ignored.
 */
export function parsePct(record: string): number {
  for (const part of record.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim().toLowerCase() !== "pct") continue;
    const value = part.slice(eq + 1).trim();
    if (!/^\d{1,3}$/.test(value)) return 100;
    const n = Number(value);
    return n <= 100 ? n : 100;
  }
  return 100;
}

export interface PolicySample {
  /** The policy after p/sp/np and t=y (mailauth's choice), before sampling. */
  policy: DmarcPolicy;
  /** The effective pct, 0 to 100 (100 when the record has none or under t=y). */
  pct: number;
  /** Whether the message was selected by the pct sampling (always true at pct=100). */
  selected: boolean;
  /** The policy to apply to a failing message. */
  applied: DmarcPolicy;
}

/**
 * Applies pct sampling to `policy`. `random` returns a number in [0, 1) (Math.random's
 * contract); tests inject a fixed one. Under t=y (RFC 9989 §4.7) mailauth has already weakened
 * the policy one step, which is what DMARCbis has instead of pct, so pct is not applied again.
 */
export function samplePolicy(policy: DmarcPolicy, record: string, testMode: boolean, random: () => number): PolicySample {
  const pct = testMode ? 100 : parsePct(record);
  // RFC 7489 §6.6.4: select pct% of messages; pct=0 selects none, pct=100 all.
  const selected = pct >= 100 ? true : pct <= 0 ? false : random() * 100 < pct;
  return { policy, pct, selected, applied: selected ? policy : WEAKER[policy] };
}
