// Real reply texts (as receivers send them; addresses replaced by documentation ranges).
import { test } from "node:test";
import assert from "node:assert/strict";
import { REPUTATION_PATTERNS, matchReputation } from "./reply-patterns.ts";

const LISTED: Array<[string, string]> = [
  ["spamhaus", "554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.10"],
  ["spamhaus", "550 5.7.1 Service unavailable, Client host [192.0.2.10] blocked using Spamhaus. To request removal from this list see https://www.spamhaus.org/query/ip/192.0.2.10 (AS3130). [BN8NAM12FT064.eop-nam12.prod.protection.outlook.com]"],
  ["spamcop", "550 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using bl.spamcop.net; Blocked - see https://www.spamcop.net/bl.shtml?192.0.2.10"],
  ["barracuda", "554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using Barracuda Reputation, https://www.barracudanetworks.com/reputation/?pr=1&ip=192.0.2.10"],
  ["uceprotect", "550 5.7.1 Your IP 192.0.2.10 is listed at UCEPROTECT-Level1, see http://www.uceprotect.net/rblcheck.php?ipr=192.0.2.10"],
  [
    "microsoft-s3140",
    "550 5.7.1 Unfortunately, messages from [192.0.2.10] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. [DM6NAM12FT023.eop-nam12.prod.protection.outlook.com]",
  ],
  [
    "microsoft-s3140",
    "550 5.7.1 Unfortunately, messages from [192.0.2.10] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.",
  ],
  [
    "gmail-reputation",
    "550-5.7.1 [192.0.2.10] Our system has detected that this message is likely suspicious due to the very low reputation of the sending IP address. To best protect our users from spam, the message has been blocked. Please visit 550 5.7.1 https://support.google.com/mail/answer/188131 for more information.",
  ],
  [
    "gmail-reputation",
    "421-4.7.0 [192.0.2.10] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited.",
  ],
  ["gmail-reputation", "550-5.7.1 Our system has detected that this message is likely suspicious due to the very low reputation of the sending domain."],
  ["dnsbl-generic", "554 5.7.1 Rejected: 192.0.2.10 is blacklisted"],
  ["5.7.1-blocked", "554 5.7.1 Your access to this mail system has been rejected; the sending IP 192.0.2.10 is blocked"],
];

const NOT_LISTED = [
  "550 5.1.1 The email account that you tried to reach does not exist.",
  "552 5.2.2 The email account that you tried to reach is over quota.",
  "421 4.7.0 Try again later, closing connection. (EHLO)",
  "550 5.7.26 This message does not have authentication information or fails to pass authentication checks (SPF or DKIM).",
  "554 5.7.1 Message rejected as spam by Content Filtering.",
  "451 4.7.1 Greylisted, please try again in 300 seconds",
];

test("receiver replies naming a blocklisting or poor reputation are recognised", () => {
  for (const [id, reply] of LISTED) assert.equal(matchReputation(reply)?.id, id, reply);
});

test("other refusals are not taken for a blocklisting", () => {
  for (const reply of NOT_LISTED) assert.equal(matchReputation(reply), null, reply);
});

test("every pattern of the table is exercised by a real reply", () => {
  const seen = new Set(LISTED.map(([id]) => id));
  for (const p of REPUTATION_PATTERNS) assert.ok(seen.has(p.id), `no reply text for ${p.id}`);
});
