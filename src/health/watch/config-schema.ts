// Config keys of the watcher (issue 8 §3), the relay switch (§4) and /metrics (§5). Kept beside
// the code that reads them, added to src/config/schema.ts like the spam filter's.
import { z } from "zod";

const secs = (def: number, description: string) =>
  z.number({ error: "expected a number of seconds" }).int({ error: "expected a whole number of seconds" }).min(60, { error: "expected at least 60 seconds" }).default(def).meta({ description });

const WebhookSchema = z.strictObject({
  url: z.string({ error: "expected a URL" }).url({ error: "expected an http(s) URL" }).meta({ description: "Where alerts are POSTed as JSON." }),
  secret: z.string({ error: "expected a secret" }).min(16, { error: "expected a secret of at least 16 characters" }).meta({
    description: "HMAC-SHA256 key of the Freehold-Signature header (docs/dns.md \"Alerts\").",
  }),
});

export const WatchSchema = z
  .strictObject({
    enabled: z.boolean({ error: "expected true or false" }).default(true).meta({ description: "Run the checks of `freehold check` on a schedule inside `freehold serve`." }),
    blocklistIntervalSeconds: secs(3600, "How often the blocklist checks run."),
    otherIntervalSeconds: secs(21600, "How often every other check runs."),
    firstRunDelaySeconds: z.number().int().min(0).max(86_400).default(120).meta({ description: "Seconds after `serve` starts before the first checks run (0: at once)." }),
    confirmRuns: z.number().int().min(1).max(100).default(2).meta({ description: "Consecutive runs a new state must hold before it alerts." }),
    historyDays: z.number().int().min(1).max(3650).default(90).meta({ description: "Days of check history kept in the database." }),
    alertMailboxes: z.array(z.string().min(3)).default([]).meta({
      description: "Local addresses that get alert mail (delivered locally). Empty: postmaster@ of the host name's domain when it is local, else of the first local domain.",
    }),
    webhooks: z.array(WebhookSchema).default([]).meta({ description: "Webhooks that get every alert, signed." }),
  })
  .prefault({})
  .meta({ description: "Watching: scheduled checks, history and alerts (docs/dns.md \"Watching\")." });

export const RoutingSchema = z
  .strictObject({
    onBlocklisted: z.enum(["none", "relay"], { error: "expected none or relay" }).default("none").meta({
      description: "relay: while an outbound IP is confirmed listed, direct deliveries go through blocklistRelay.",
    }),
    blocklistRelay: z.string().min(1).optional().meta({ description: "Name of the relay (relays.yaml) used while listed." }),
    revertAfterCleanRuns: z.number().int().min(1).max(100).default(3).meta({ description: "Clean blocklist runs before direct delivery resumes." }),
  })
  .prefault({})
  .meta({ description: "Routing around a blocklisting (docs/dns.md \"The relay switch\")." });

export const MetricsSchema = z
  .strictObject({
    listen: z.string().min(1).optional().meta({
      description: "host:port of the Prometheus /metrics listener. Default: 127.0.0.1:9225 in dev mode, off otherwise.",
    }),
    token: z.string().min(16).optional().meta({ description: "Bearer token; required to listen on a non-loopback address." }),
  })
  .prefault({})
  .meta({ description: "Prometheus metrics (docs/metrics.md)." });
