// The `spam` section of the configuration (src/config/schema.ts includes it; docs/spam.md
// explains each key). Everything has a default: filtering is on out of the box.
import { z } from "zod";
import { DEFAULT_DOMAIN_ZONES, DEFAULT_IP_ZONES } from "../dnsbl/dnsbl.ts";

const score = z.number({ error: "expected a score (a number)" });
const bool = () => z.boolean({ error: "expected true or false" });
const int = (min: number, max: number) => {
  const error = `expected a number from ${min} to ${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};

const ThresholdsSchema = z.strictObject({
  junk: score.optional().meta({ description: "Score at or above which mail goes to Junk." }),
  reject: score.optional().meta({ description: "Score at or above which mail is refused at the end of DATA (550 5.7.1)." }),
});

export const SpamSchema = z
  .strictObject({
    enabled: bool().default(true).meta({ description: "Score incoming mail (mx role) and file spam into Junk or refuse it." }),
    junkScore: score.default(5).meta({ description: "Score at or above which mail goes to the recipient's Junk folder." }),
    rejectScore: score.default(12).meta({
      description: "Score at or above which mail is refused at the end of DATA with 550 5.7.1 (never for trusted senders; with several recipients only when all would refuse).",
    }),
    domains: z.record(z.string(), ThresholdsSchema).default({}).meta({
      description: "Thresholds per recipient domain, e.g. { example.com: { junk: 4, reject: 20 } }.",
    }),
    users: z.record(z.string(), ThresholdsSchema).default({}).meta({
      description: "Thresholds per recipient address (over the domain's), e.g. { ceo@example.com: { reject: 1000 } }.",
    }),
    ipBlocklists: z.array(z.string()).default([...DEFAULT_IP_ZONES]).meta({
      description: "DNS blocklist zones the client IP is looked up in (RFC 5782). [] turns them off.",
    }),
    domainBlocklists: z.array(z.string()).default([...DEFAULT_DOMAIN_ZONES]).meta({
      description: "Domain list zones the From domain and URL domains are looked up in. [] turns them off.",
    }),
    budgetMs: int(100, 120_000).default(8000).meta({
      description: "Most time the filter may take per message, in ms; past it the message is delivered unfiltered and logged.",
    }),
    reputationHalfLifeDays: int(1, 3650).default(90).meta({
      description: "Half-life of sender reputation (kept, junked, written to), in days.",
    }),
    bootstrapMessages: int(0, 100_000).default(2000).meta({
      description: "On an account's first filtered message, train from at most this many existing messages (Junk as spam, other folders except Trash, Sent and Drafts as ham).",
    }),
    checkLoopback: bool().default(false).meta({
      description: "Also run the client checks (blocklists, reverse DNS, HELO) for clients on 127.0.0.0/8 and ::1 (tests; local tools are exempt otherwise).",
    }),
    bulkWindowSeconds: int(10, 86_400).default(600).meta({ description: "Window in which identical bodies count as one bulk run, in seconds." }),
    greylist: z
      .strictObject({
        enabled: bool().default(false).meta({ description: "Greylist first-time (client network, sender, recipient) triples with 451 4.7.1." }),
        delaySeconds: int(1, 86_400).default(300).meta({ description: "How long a new triple must wait before a retry is accepted." }),
        retryWindowHours: int(1, 720).default(48).meta({ description: "How long a greylisted triple waits for its retry." }),
        passLifetimeDays: int(1, 365).default(35).meta({ description: "How long a triple that retried stays accepted." }),
      })
      .prefault({})
      .meta({ description: "Greylisting (postgrey style; IPv4 /24 and IPv6 /64 grouped). Off by default." }),
    rspamd: z
      .strictObject({
        url: z.string().url({ error: "expected a URL such as http://127.0.0.1:11333" }).optional().meta({
          description: "rspamd's HTTP address; when set each message also goes to /checkv2 and its score is added.",
        }),
        learnUrl: z.string().url({ error: "expected a URL such as http://127.0.0.1:11334" }).optional().meta({
          description: "rspamd controller for /learnspam and /learnham. Default: url.",
        }),
        password: z.string().optional().meta({ description: "rspamd controller password (sent in the Password header)." }),
        timeoutMs: int(100, 60_000).default(5000).meta({ description: "Timeout of one rspamd request, in ms." }),
      })
      .prefault({})
      .meta({ description: "rspamd, optional." }),
  })
  .prefault({})
  .meta({ description: "Spam filtering (docs/spam.md)." });

export type SpamConfig = z.output<typeof SpamSchema>;
