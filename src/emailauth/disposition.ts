// What the MX does with a message after authentication. Only DMARC decides (RFC 7489 §6.6.2,
// §10.3): SPF or DKIM failing alone never refuses mail. A DNS failure is recorded as temperror
// and the message accepted, unless a DMARC reject depends on it: then the sender is asked to
// retry (4xx), because a fresh lookup may turn the failure into a pass.
import type { DmarcOutcome, DkimOutcome, SpfOutcome } from "./verify.ts";

export type AuthAction = "accept" | "quarantine" | "reject" | "tempfail";

export interface SmtpReply {
  code: number;
  enhanced: string;
  text: string;
}

export interface Disposition {
  /** accept: deliver; quarantine: deliver into Junk; reject/tempfail: answer `reply` at end of DATA. */
  action: AuthAction;
  reason: string;
  /** The reply for reject (550 5.7.1) and tempfail (451 4.4.3); null for accept and quarantine. */
  reply: SmtpReply | null;
}

function normalize(domain: string): string {
  return domain.toLowerCase().replace(/\.$/, "");
}

/**
 * Could `domain` align with the From domain, had its check passed? Strict alignment needs the
 * same name; relaxed needs the same Organizational Domain, which only a DNS Tree Walk can tell
 * (RFC 9989 §4.10.2), so any shared parent below the top label counts: over-counting only turns
 * a reject into a retry, never a pass into a reject.
 */
export function mayAlign(domain: string, fromDomain: string, strict: boolean): boolean {
  const a = normalize(domain);
  const b = normalize(fromDomain);
  if (a === "" || b === "") return false;
  if (a === b) return true;
  if (strict) return false;
  const la = a.split(".");
  const lb = b.split(".");
  return la.length >= 2 && lb.length >= 2 && la.slice(-2).join(".") === lb.slice(-2).join(".");
}

export interface DispositionInput {
  spf: SpfOutcome;
  dkim: DkimOutcome[];
  dmarc: DmarcOutcome | null;
}

export function decideAction({ spf, dkim, dmarc }: DispositionInput): Disposition {
  if (dmarc === null) return { action: "accept", reason: "DMARC not evaluated", reply: null };
  const d = dmarc.fromDomain;
  const policyNote = dmarc.appliedPolicy !== null && dmarc.appliedPolicy !== dmarc.policy ? ` (pct=${dmarc.pct} not selected)` : "";
  switch (dmarc.result) {
    case "pass":
      return { action: "accept", reason: `DMARC pass for ${d}`, reply: null };
    case "none":
      return { action: "accept", reason: `no DMARC policy for ${d}`, reply: null };
    case "permerror":
      return { action: "accept", reason: `DMARC permerror for ${d}`, reply: null };
    case "temperror":
      // The record was found but an alignment walk or the np existence check failed.
      if (dmarc.appliedPolicy === "reject") return tempfail(d, "DMARC temperror under p=reject");
      return { action: "accept", reason: `DMARC temperror for ${d}${dmarc.error ? `: ${dmarc.error}` : ""}`, reply: null };
    case "fail": {
      const spfMight = spf.result === "temperror" && mayAlign(spf.domain, d, dmarc.strictSpf);
      const dkimMight = dkim.some((s) => s.result === "temperror" && s.domain !== undefined && mayAlign(s.domain, d, dmarc.strictDkim));
      const dnsDoubt = spfMight || dkimMight;
      const which = [spfMight ? "SPF" : "", dkimMight ? "DKIM" : ""].filter(Boolean).join(" and ");
      switch (dmarc.appliedPolicy) {
        case "reject":
          if (dnsDoubt) return tempfail(d, `DMARC fail under p=reject with ${which} temperror`);
          return {
            action: "reject",
            reason: `DMARC fail, policy reject for ${d}`,
            // RFC 7489 §10.3 / RFC 3463: 5.7.1, delivery not authorized.
            reply: { code: 550, enhanced: "5.7.1", text: `Message rejected by the DMARC policy of ${d}` },
          };
        case "quarantine":
          if (dnsDoubt) return { action: "accept", reason: `DMARC fail for ${d} with ${which} temperror, not quarantined`, reply: null };
          return { action: "quarantine", reason: `DMARC fail, policy quarantine for ${d}${policyNote}`, reply: null };
        default:
          return { action: "accept", reason: `DMARC fail, policy none for ${d}${policyNote}`, reply: null };
      }
    }
  }
}

function tempfail(domain: string, why: string): Disposition {
  return {
    action: "tempfail",
    reason: `${why} for ${domain}`,
    // RFC 3463 X.4.3: directory (DNS) server failure; 451: try again later.
    reply: { code: 451, enhanced: "4.4.3", text: `Temporary DNS failure checking the DMARC policy of ${domain}, try again later` },
  };
}
