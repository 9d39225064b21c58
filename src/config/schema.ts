// The one source of configuration (STYLE.md §10): this schema yields the TypeScript types, the
// validation (with the messages operators read), the defaults, and the commented example file
// (src/config/example.ts walks its JSON Schema; docs/config.example.yaml is that output, and a
// test fails when the two drift apart).
//
// Keys are strict: an unknown key is an error, so a typo ("hostnmae") is caught instead of
// silently falling back to a default.
import { z } from "zod";
import { SpamSchema } from "../spam/config-schema.ts";
import { RetentionSchema } from "../retention/config-schema.ts";
import { SuppressionSchema } from "../suppression/config-schema.ts";
import { HEALTH_DOMAIN_ZONES, HEALTH_IP_ZONES } from "../dnsbl/dnsbl.ts";
import { MetricsSchema, RoutingSchema, WatchSchema } from "../health/watch/config-schema.ts";
import { BackupSchema } from "../backup/config-schema.ts";

export const LISTENER_ROLES = ["mx", "submission", "submissions", "imap", "imaps", "http", "https"] as const;
export type ListenerRole = (typeof LISTENER_ROLES)[number];

export const TLS_MODES = ["implicit", "starttls", "none"] as const;
export type TlsMode = (typeof TLS_MODES)[number];

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** The TLS mode a listener gets when its `tls` key is left out. */
export const DEFAULT_TLS_BY_ROLE: Record<ListenerRole, TlsMode> = {
  // RFC 3207: MX and submission (RFC 6409) offer STARTTLS; RFC 8314 §3.3: port 465 is implicit TLS.
  mx: "starttls",
  submission: "starttls",
  submissions: "implicit",
  // RFC 9051 §6.2.1 STARTTLS on 143; RFC 8314 §3.2: 993 is implicit TLS.
  imap: "starttls",
  imaps: "implicit",
  http: "none",
  // The web admin and the API (docs/web.md); one listener serves every name (SNI).
  https: "implicit",
};

// A whole number in a range, with one message for every way of getting it wrong.
function intIn(min: number, max: number) {
  const error = `expected a number from ${min} to ${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

function nonNegativeInt(what = "a whole number, 0 or more") {
  const error = `expected ${what}`;
  return z.number({ error }).int({ error }).min(0, { error });
}

// RFC 1123 §2.1 host name: dot-separated labels of letters, digits and hyphens, no label
// starting or ending with a hyphen, at most 253 characters. A-labels only (IDNs in punycode).
const HOSTNAME_RE = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

const hostname = z
  .string({ error: "expected a host name such as mail.example.com" })
  .regex(HOSTNAME_RE, { error: "expected a host name such as mail.example.com (letters, digits, hyphens, dots)" });

export const ListenerSchema = z.strictObject({
  role: z.enum(LISTENER_ROLES, { error: `expected one of ${LISTENER_ROLES.join(", ")}` }).meta({
    description: "What the listener serves: mx (incoming mail), submission, submissions, imap, imaps, http or https (web admin and API).",
  }),
  address: z
    .string({ error: "expected an IP address" })
    .min(1, { error: "expected an IP address" })
    .default("0.0.0.0")
    .meta({ description: "IP address to listen on. \"::\" listens on IPv6 (and IPv4 on dual-stack hosts)." }),
  port: intIn(1, 65535).meta({ description: "TCP port." }),
  tls: z.enum(TLS_MODES, { error: `expected one of ${TLS_MODES.join(", ")}` }).optional().meta({
    description:
      "implicit (TLS from the first byte), starttls, or none. Default by role: mx, submission and imap starttls; submissions, imaps and https implicit; http none.",
  }),
  // RFC 5321 §4.5.3.1.8: at least 100.
  maxRecipients: intIn(100, 100_000).optional().meta({
    description: "SMTP roles only: recipients per message on this listener, instead of smtp.maxRecipients.",
  }),
});

const PregreetSchema = z
  .strictObject({
    enabled: z.boolean({ error: "expected true or false" }).default(true).meta({
      description: "Hold the greeting of untested clients and refuse those that talk first (554).",
    }),
    waitMs: intIn(0, 60_000).default(6000).meta({ description: "How long an untested client waits for the greeting, in ms." }),
    passTtlMs: nonNegativeInt().default(24 * 3600 * 1000).meta({
      description: "How long a client IP that passed stays exempt, in ms.",
    }),
    exemptLoopback: z.boolean({ error: "expected true or false" }).default(true).meta({
      description: "Never delay clients on 127.0.0.0/8 and ::1.",
    }),
  })
  .prefault({})
  .meta({ description: "A pregreet test like Postfix's postscreen, on mx listeners only." });

const SmtpSchema = z
  .strictObject({
    maxMessageBytes: intIn(1024, 2 ** 40).default(50 * MiB).meta({
      description: "Largest message accepted, in bytes (advertised with SIZE, RFC 1870).",
    }),
    // RFC 5321 §4.5.3.1.8: a server must accept at least 100 recipients; Postfix takes 1000.
    maxRecipients: intIn(100, 100_000).default(1000).meta({
      description:
        "Recipients per message; more get 452 4.5.3 and the client sends them in another transaction. At least 100 (RFC 5321 §4.5.3.1.8). A listener can set its own.",
    }),
    recipientOvershoot: intIn(0, 100_000).default(1000).meta({
      description:
        "Recipients over maxRecipients in one transaction that get 452 without counting as errors (Postfix smtpd_recipient_overshoot_limit); each one beyond counts towards maxErrors.",
    }),
    maxErrors: intIn(1, 1000).default(20).meta({ description: "Errors in one session before it is closed." }),
    // RFC 5321 §4.5.3.1.6 says 1000; real senders send longer lines and Postfix takes them.
    maxLineOctets: intIn(1000, 64 * MiB).default(128 * 1024).meta({
      description: "Longest message line accepted in DATA, in octets including CRLF; longer gets 554 5.6.0. Stored as received.",
    }),
    bareLineEndings: z.enum(["normalize", "reject"], { error: "expected normalize or reject" }).default("normalize").meta({
      description:
        "Message lines ending in a bare LF: normalize (stored as CRLF; only CRLF.CRLF ends DATA) or reject (554 5.6.0), as Postfix's smtpd_forbid_bare_newline.",
    }),
    strictEnvelopes: z.boolean({ error: "expected true or false" }).default(false).meta({
      description:
        "Refuse MAIL FROM:addr and RCPT TO:addr without angle brackets (501). Default false: accepted and logged, as Postfix's strict_rfc821_envelopes = no.",
    }),
    // RFC 5321 §4.5.3.2.7: the server should wait at least 5 minutes for the next command.
    commandTimeoutMs: intIn(1000, 3_600_000).default(300_000).meta({
      description: "Idle time before 421 4.4.2, in ms (RFC 5321 §4.5.3.2: at least 5 minutes).",
    }),
    // Slow clients (issue 13 §2): a command line must arrive whole within commandTimeoutMs, and
    // content must keep a minimum rate, as Postfix's smtpd_per_record_deadline/smtpd_min_data_rate.
    dataTimeoutMs: intIn(1000, 3_600_000).default(300_000).meta({
      description: "Longest wait for more message content during DATA or BDAT, in ms (RFC 5321 §4.5.3.2.5/.6 give clients 3 and 10 minutes).",
    }),
    minDataRate: intIn(0, 1_000_000_000).default(500).meta({
      description:
        "Message content must average at least this many octets a second once dataTimeoutMs has passed (Postfix smtpd_min_data_rate); slower clients get 421 4.4.2. 0 = no rate check.",
    }),
    maxBdatChunks: intIn(1, 10_000_000).default(10_000).meta({
      description:
        "BDAT chunks one message may come in (RFC 3030); more get 552 5.3.4. Bounds the cost of 1-octet chunks; the content's minDataRate applies across all chunks of a message too.",
    }),
    maxConnections: intIn(1, 1_000_000).default(2000).meta({
      description: "Concurrent connections per SMTP listener; beyond it new connections get 421 4.7.0 and are closed (as Postfix at its process limit).",
    }),
    maxConnectionsPerIp: intIn(1, 1_000_000).default(50).meta({
      description:
        "Concurrent SMTP connections per listener group from one client (an IPv4 address or an IPv6 /64); more get 421 4.7.0 (Postfix smtpd_client_connection_count_limit, 50).",
    }),
    pregreet: PregreetSchema,
  })
  .prefault({})
  .meta({ description: "SMTP limits." });

const DnsSchema = z
  .strictObject({
    servers: z
      .array(z.string({ error: "expected an IP address, optionally with :port" }))
      .default([])
      .meta({ description: "Recursive resolvers to ask (\"ip\" or \"ip:port\"). Empty: the system's." }),
    timeoutMs: intIn(100, 60_000).default(2000).meta({ description: "Timeout of one DNS try, in ms." }),
    tries: intIn(1, 10).default(2).meta({ description: "Tries per lookup (2 = one retry)." }),
  })
  .prefault({})
  .meta({ description: "DNS resolution (SPF, DKIM, DMARC, MX lookups)." });

const QuotaSchema = z
  .strictObject({
    defaultBytes: nonNegativeInt("a number of bytes, 0 or more").default(5 * GiB).meta({
      description: "Mailbox quota of users created without --quota, in bytes. 0 = unlimited.",
    }),
  })
  .prefault({})
  .meta({ description: "Storage quotas." });

const LoginSchema = z
  .strictObject({
    cacheSeconds: nonNegativeInt("a number of seconds, 0 to 600").max(600, { error: "at most 600 seconds" }).default(600).meta({
      description:
        "How long a successful login (IMAP, SMTP AUTH) is remembered, so a reconnecting client skips the slow password hash. At most 600; 0 turns the cache off.",
    }),
    // Failed-login limits (src/login/limiter.ts, docs/security.md), shared by IMAP and SMTP AUTH.
    maxFailuresPerIp: intIn(0, 100_000).default(10).meta({
      description:
        "Failed logins from one client address within failureWindowSeconds before it is locked out (SMTP 454 4.7.0, IMAP NO [UNAVAILABLE]). Counts every account, so password spraying is caught too. 0 = no limit.",
    }),
    maxFailuresPerIpv6Prefix: intIn(0, 100_000).default(30).meta({
      description: "Failed logins from one IPv6 /64 within failureWindowSeconds before the whole /64 is locked out. 0 = no limit.",
    }),
    maxFailuresPerAccount: intIn(0, 100_000).default(10).meta({
      description:
        "Failed logins for one account name (existing or not) within failureWindowSeconds before it is locked out; addresses that logged in to it before are exempt (trustedDays). 0 = no limit.",
    }),
    failureWindowSeconds: intIn(1, 7 * 86400).default(900).meta({
      description: "How long a failed login counts; a counter quiet for this long is forgotten.",
    }),
    lockoutSeconds: intIn(1, 7 * 86400).default(300).meta({
      description: "First lockout; each repeated lockout of the same address, network or account doubles it, up to maxLockoutSeconds.",
    }),
    maxLockoutSeconds: intIn(1, 30 * 86400).default(3600).meta({ description: "Longest lockout." }),
    failureDelayMs: intIn(0, 60_000).default(500).meta({
      description:
        "Back-off before a failed or refused login is answered, as Dovecot's auth penalty: this many ms after the first recent failure of an address, doubling with each further one. 0 = off.",
    }),
    maxFailureDelayMs: intIn(0, 300_000).default(15_000).meta({ description: "Longest back-off delay, in ms." }),
    trustedDays: intIn(0, 365).default(30).meta({
      description:
        "How long an address that logged in to an account stays exempt from that account's lockout (kept in memory). 0 = never exempt.",
    }),
  })
  .prefault({})
  .meta({ description: "Logins." });

const ImapSchema = z
  .strictObject({
    maxConnectionsPerUser: z.number().int().min(1, { error: "expected 1 or more" }).default(50).meta({
      description: "Concurrent IMAP sessions one user may have logged in (RFC 5530 [LIMIT] beyond).",
    }),
    maxConnectionsPerIp: z.number().int().min(1, { error: "expected 1 or more" }).default(100).meta({
      description: "Concurrent IMAP connections from one client address.",
    }),
    maxConnections: intIn(1, 1_000_000).default(2000).meta({
      description: "Concurrent connections per IMAP listener; beyond it new clients get BYE [LIMIT].",
    }),
    loginTimeoutMs: intIn(1000, 3_600_000).default(180_000).meta({
      description:
        "Time a client has from connecting to logging in, however busy it keeps the line (a slowloris defence; Dovecot's login timeout is 3 minutes), in ms.",
    }),
    commandTimeoutMs: intIn(1000, 3_600_000).default(300_000).meta({
      description:
        "Time a command that has begun to arrive has to arrive whole, in ms (a slowloris defence after login, like smtp.commandTimeoutMs); literal data extends it by 2 ms an octet (500 octets a second), so a slow APPEND is not cut. Waiting between commands, and IDLE, are not limited by it (RFC 9051 §5.4 autologout, 30 minutes).",
    }),
    allowPlaintextOnLoopback: z.boolean({ error: "expected true or false" }).default(true).meta({
      description:
        "Let clients on loopback (127.0.0.0/8, ::1) log in without TLS, as Dovecot does; others see LOGINDISABLED until STARTTLS. Set false when a proxy on this host forwards remote clients over loopback.",
    }),
  })
  .prefault({})
  .meta({ description: "IMAP server." });

const SubmissionSchema = z
  .strictObject({
    hourlyRecipients: nonNegativeInt("a number of recipients, 0 or more").default(500).meta({
      description:
        "Recipients each user may send to per sliding hour (a message to 100 people counts 100); past it RCPT gets 451 4.7.1. 0 = unlimited.",
    }),
  })
  .prefault({})
  .meta({ description: "Mail submission (ports 587 and 465)." });

const QueueSchema = z
  .strictObject({
    holdOutbound: z.boolean({ error: "expected true or false" }).optional().meta({
      description: "Keep outbound mail in the queue instead of sending it. Default: true in dev mode, else false.",
    }),
  })
  .prefault({})
  .meta({ description: "Outbound queue." });

const TlsFilesSchema = z
  .strictObject({
    cert: z.string({ error: "expected a file path" }).min(1).default("tls/cert.pem").meta({
      description: "Certificate chain (PEM); relative paths are inside the data folder.",
    }),
    key: z.string({ error: "expected a file path" }).min(1).default("tls/key.pem").meta({
      description: "Private key (PEM); keep it mode 0600.",
    }),
    sni: z
      .array(
        z.strictObject({
          names: z.array(z.string().regex(/^(\*\.)?[a-z0-9.-]{1,253}$/i, { error: "expected a host name or *.domain" })).min(1),
          cert: z.string({ error: "expected a file path" }).min(1),
          key: z.string({ error: "expected a file path" }).min(1),
        }),
      )
      .default([])
      .meta({
        description:
          "https listeners: more certificates, chosen by the name the client asks for (SNI); `*.example.com` matches one label. Other names get cert/key. Reloaded when the files change or on SIGHUP.",
      }),
  })
  .prefault({})
  .meta({ description: "TLS certificate files." });

// ACME (RFC 8555, src/acme/): certificates for the mail host and the mta-sts./autoconfig. names
// of every enabled domain, written over tls.cert/tls.key and reloaded by every listener.
const AcmeSchema = z
  .strictObject({
    enabled: z.boolean({ error: "expected true or false" }).default(false).meta({
      description: "Obtain and renew the certificate from an ACME CA. It is written to tls.cert/tls.key (so those files are then managed by Freehold).",
    }),
    directoryUrl: z.url({ error: "expected a URL" }).default("https://acme-v02.api.letsencrypt.org/directory").meta({
      description: "The CA's ACME directory (RFC 8555 §7.1.1). Default: Let's Encrypt production.",
    }),
    email: z.email({ error: "expected an email address" }).optional().meta({ description: "Contact address for the ACME account (expiry notices)." }),
    caFile: z.string({ error: "expected a file path" }).min(1).optional().meta({
      description: "An extra CA (PEM) to trust for the directory's HTTPS, e.g. a test CA such as pebble's.",
    }),
    challenges: z
      .array(z.enum(["http-01", "tls-alpn-01"], { error: "expected http-01 or tls-alpn-01" }))
      .min(1)
      .default(["http-01", "tls-alpn-01"])
      .meta({
        description:
          "Challenge types, in order of preference: http-01 answered by the http listener (port 80), tls-alpn-01 (RFC 8737) by the https listener (port 443). The CA picks among those it offers.",
      }),
    renewWhenLeft: z.number().gt(0).lt(1).default(1 / 3).meta({
      description: "Renew when this fraction of the certificate's lifetime is left (default a third).",
    }),
    checkIntervalSeconds: z.number().int().min(1).default(3600).meta({
      description: "How often the certificate's due date is looked at.",
    }),
  })
  .prefault({})
  .meta({ description: "Certificates from ACME (Let's Encrypt or another CA)." });

const ServerSchema = z
  .strictObject({
    publicIps: z
      .array(z.union([z.ipv4(), z.ipv6()], { error: "expected an IPv4 or IPv6 address" }))
      .default([])
      .meta({
        description:
          "The server's public IP addresses (IPv4 and IPv6), used for outbound mail: `freehold dns records` puts them in SPF, A/AAAA and PTR, `freehold check` tests their reverse DNS and blocklistings. `freehold init` fills in the public addresses of the interfaces.",
        examples: [["192.0.2.10", "2001:db8::10"]],
      }),
    blocklists: z
      .strictObject({
        ip: z.array(z.string().min(1)).default(HEALTH_IP_ZONES).meta({ description: "DNSBL zones the public IPs are checked in (RFC 5782): Spamhaus ZEN, SpamCop, Barracuda, UCEPROTECT-1, PSBL." }),
        domain: z.array(z.string().min(1)).default(HEALTH_DOMAIN_ZONES).meta({ description: "Domain list zones the registrable domains are checked in: Spamhaus DBL, SURBL." }),
      })
      .prefault({})
      .meta({ description: "Blocklists `freehold check` asks. They need a local recursive resolver: most refuse public ones." }),
    // issue 14 (docs/architecture.md "Using every core"): 1 = one process does everything.
    processes: z
      .union([z.literal("auto"), intIn(1, 64)], { error: 'expected "auto" or a whole number from 1 to 64' })
      .default(1)
      .meta({
        description:
          'Serving processes: the store owner plus (processes - 1) protocol processes that accept mx connections on the same sockets. "auto": one per core (os.availableParallelism()). Default 1.',
      }),
  })
  .prefault({})
  .meta({ description: "The server as the Internet sees it, and its process layout." });

const LogSchema = z
  .strictObject({
    level: z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(", ")}` }).default("info").meta({
      description: "Log level.",
    }),
    file: z.string({ error: "expected a file path" }).default("logs/freehold.log").meta({
      description: "`serve` also writes its log here (relative to the data folder; mode 0600), which `freehold trace` reads; \"\" turns it off.",
    }),
    maxFileMiB: z.number({ error: "expected MiB from 1 to 10240" }).int().min(1, { error: "expected MiB from 1 to 10240" }).max(10_240, { error: "expected MiB from 1 to 10240" }).default(64).meta({
      description: "Rotate the log file when it is larger than this (MiB).",
    }),
    keepFiles: z.number({ error: "expected 0 to 1000" }).int().min(0, { error: "expected 0 to 1000" }).max(1000, { error: "expected 0 to 1000" }).default(10).meta({
      description: "Rotated log files kept (freehold.log.1 … .N).",
    }),
    keepDays: z.number({ error: "expected days from 1 to 3650" }).int().min(1, { error: "expected days from 1 to 3650" }).max(3650, { error: "expected days from 1 to 3650" }).default(30).meta({
      description: "Rotated log files older than this are deleted.",
    }),
  })
  .prefault({})
  .meta({ description: "Logging." });

// RFC 8461 §3.2: the MTA-STS policy served at https://mta-sts.<domain>/.well-known/mta-sts.txt
// for every domain (src/web/autoconfig/mta-sts.ts); its TXT record's id= follows the text.
const MtaStsSchema = z
  .strictObject({
    mode: z.enum(["enforce", "testing", "none"], { error: "expected enforce, testing or none" }).default("enforce").meta({
      description:
        "enforce: senders that support MTA-STS deliver only over TLS with a valid certificate to a listed MX; testing: they deliver anyway and report (TLS-RPT); none: withdraws a policy.",
    }),
    maxAgeSeconds: intIn(86400, 31557600).default(604800).meta({
      description: "How long senders cache the policy (RFC 8461 §3.2 max_age; at most 31557600). Default one week.",
    }),
    mx: z
      .array(z.string().regex(/^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/i, { error: "expected a host name, or *.domain" }))
      .default([])
      .meta({ description: "MX host names the policy lists besides hostname (e.g. a backup MX; \"*.example.com\" matches one label)." }),
  })
  .prefault({})
  .meta({ description: "MTA-STS policy (RFC 8461) served on the mta-sts.<domain> host." });


/** The listeners of a production server on the standard ports. */
export const DEFAULT_LISTENERS: z.output<typeof ListenerSchema>[] = [
  { role: "mx", address: "0.0.0.0", port: 25 },
  { role: "submission", address: "0.0.0.0", port: 587 },
  { role: "submissions", address: "0.0.0.0", port: 465 },
  { role: "imap", address: "0.0.0.0", port: 143 },
  { role: "imaps", address: "0.0.0.0", port: 993 },
  { role: "http", address: "0.0.0.0", port: 80 },
  { role: "https", address: "0.0.0.0", port: 443 },
];

/** The file's shape as written (before defaults that depend on other keys). */
export const ConfigFileSchema = z
  .strictObject({
    hostname: hostname.meta({
      description: "This server's host name: SMTP greeting, Received headers, certificate. Required.",
      examples: ["mail.example.com"],
    }),
    dataDir: z.string({ error: "expected a folder path" }).min(1).optional().meta({
      description: "Data folder (database, messages, keys). Default: the folder holding this file.",
    }),
    authservId: hostname.optional().meta({
      description: "authserv-id in Authentication-Results headers (RFC 8601 §2.5). Default: hostname.",
    }),
    server: ServerSchema,
    dev: z.boolean({ error: "expected true or false" }).default(false).meta({
      description: "Development mode: outbound mail held, demo logins printed.",
    }),
    listeners: z
      .array(ListenerSchema, { error: "expected a list of listeners" })
      .min(1, { error: "expected at least one listener" })
      .default(DEFAULT_LISTENERS)
      .meta({ description: "Sockets to listen on, each with a role." }),
    tls: TlsFilesSchema,
    acme: AcmeSchema,
    smtp: SmtpSchema,
    dns: DnsSchema,
    quota: QuotaSchema,
    login: LoginSchema,
    imap: ImapSchema,
    submission: SubmissionSchema,
    queue: QueueSchema,
    log: LogSchema,
    spam: SpamSchema,
    retention: RetentionSchema,
    suppression: SuppressionSchema,
    backup: BackupSchema,
    mtaSts: MtaStsSchema,
    watch: WatchSchema,
    routing: RoutingSchema,
    metrics: MetricsSchema,
  })
  .superRefine((c, ctx) => {
    const seen = new Map<string, number>();
    c.listeners.forEach((l, i) => {
      const key = `${l.address}:${l.port}`;
      const first = seen.get(key);
      if (first !== undefined) {
        ctx.addIssue({ code: "custom", path: ["listeners", i], message: `${key} is already used by listeners[${first}]` });
      } else {
        seen.set(key, i);
      }
      if (l.maxRecipients !== undefined && l.role !== "mx" && l.role !== "submission" && l.role !== "submissions") {
        ctx.addIssue({ code: "custom", path: ["listeners", i, "maxRecipients"], message: `role ${l.role} has no recipients (SMTP roles only)` });
      }
      // RFC 8314 §3: submissions and imaps are implicit TLS by definition.
      if ((l.role === "submissions" || l.role === "imaps" || l.role === "https") && l.tls !== undefined && l.tls !== "implicit") {
        ctx.addIssue({ code: "custom", path: ["listeners", i, "tls"], message: `role ${l.role} needs tls: implicit` });
      }
    });
  });

export type ConfigFile = z.input<typeof ConfigFileSchema>;
type Parsed = z.output<typeof ConfigFileSchema>;

export type Listener = Omit<Parsed["listeners"][number], "tls"> & { tls: TlsMode };

/** The configuration every part of the server receives: all defaults filled in, paths absolute. */
export interface Config extends Omit<Parsed, "dataDir" | "authservId" | "listeners" | "queue"> {
  dataDir: string;
  authservId: string;
  listeners: Listener[];
  queue: { holdOutbound: boolean };
}
