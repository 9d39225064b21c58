// Receiver replies that say our IP or domain is blocklisted or has poor reputation (issue 8 §4).
// The one table: the runner asks isReputationReply() for every refused recipient of a direct
// delivery; a match is retried through the blocklist relay at once instead of bouncing, and
// counts toward the listed state. Each pattern is tested on real reply texts
// (reply-patterns.test.ts); add a pattern with the reply that needed it.
export interface ReputationPattern {
  id: string;
  /** Who says it, for logs and `freehold check`. */
  source: string;
  re: RegExp;
}

export const REPUTATION_PATTERNS: readonly ReputationPattern[] = [
  // "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org"
  { id: "spamhaus", source: "Spamhaus", re: /spamhaus/i },
  // "550 5.7.1 ... blocked using bl.spamcop.net"
  { id: "spamcop", source: "SpamCop", re: /spamcop/i },
  // "554 Service unavailable; Client host blocked using b.barracudacentral.org"
  { id: "barracuda", source: "Barracuda", re: /barracuda/i },
  // "550 5.7.1 ... listed at UCEPROTECT-Level1"
  { id: "uceprotect", source: "UCEPROTECT", re: /uceprotect/i },
  // "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. ... (S3140)" and S3150
  { id: "microsoft-s3140", source: "Microsoft", re: /\bS31[45]0\b/ },
  // Gmail: "550-5.7.1 ... Our system has detected that this message is likely suspicious due to
  // the very low reputation of the sending IP address" / "421-4.7.0 ... unusual rate of
  // unsolicited mail originating from your IP address"
  { id: "gmail-reputation", source: "Gmail", re: /(very )?low reputation of the sending (IP address|domain)|unusual rate of unsolicited mail originating from your IP/i },
  // Generic DNSBL wording: "blocked using <zone>", "listed in/on/at a blocklist", "blacklisted"
  { id: "dnsbl-generic", source: "a DNS blocklist", re: /\bblocked using\b|\b(is )?(black|block)[- ]?listed\b|\blisted (in|on|at) (the )?[\w.-]*\s*(dnsbl|rbl|block ?list|black ?list)/i },
];

/** RFC 3463: 5.7.1 "delivery not authorized" with "blocked" is how most refusals by IP read. */
const BLOCKED_571 = /^\d{3}[ -][45]\.7\.1\b.*\bblocked\b/is;

export function matchReputation(reply: string): ReputationPattern | null {
  for (const p of REPUTATION_PATTERNS) if (p.re.test(reply)) return p;
  if (BLOCKED_571.test(reply)) return { id: "5.7.1-blocked", source: "the receiver", re: BLOCKED_571 };
  return null;
}
