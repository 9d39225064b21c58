// The result of one health check (`freehold check`, and the watcher in serve). The JSON shape is
// stable (docs/dns.md "JSON output"): fields are only ever added.
export type CheckStatus = "ok" | "warn" | "fail" | "unknown";

export const CHECK_GROUPS = ["dns", "identity", "tls", "blocklist", "relay", "queue", "disk", "complaints"] as const;
export type CheckGroup = (typeof CHECK_GROUPS)[number];

export interface CheckResult {
  /** Stable id, e.g. "dns.spf.example.com", "blocklist.zen.spamhaus.org.192.0.2.1". */
  id: string;
  status: CheckStatus;
  /** What was found, in plain words. */
  message: string;
  /** The exact record (name, type, value) or command that fixes it. */
  fix?: string;
  /** What was checked: a domain, an IP, a listener, a relay. */
  subject?: string;
  group?: CheckGroup;
  /** Figures behind the result (days left, bytes free, return codes...). */
  data?: Record<string, unknown>;
}

export interface CheckReport {
  /** ISO 8601 time the run started (the injected clock). */
  startedAt: string;
  results: CheckResult[];
}

/** Exit status of `freehold check`: 1 when any check failed. */
export function reportFailed(r: CheckReport): boolean {
  return r.results.some((x) => x.status === "fail");
}
