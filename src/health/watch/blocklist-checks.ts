// The blocklist checks (src/dnsbl/dnsbl.ts) in the shape of runChecks (src/health/check.ts),
// for the watcher's tests and for a server without the full check set. Ids are
// blocklist.<zone>.<subject>: fail = listed, unknown = the list cannot be trusted, ok = clean.
import type { ResolveFunction } from "../../dns/resolver.ts";
import { checkList, zenMeaning } from "../../dnsbl/dnsbl.ts";
import type { RunChecks, WatchedResult } from "./watcher.ts";

export interface BlocklistSpec {
  zone: string;
  kind: "ip" | "domain";
}

export function blocklistRunChecks(resolve: ResolveFunction, subjects: { ips: string[]; domains: string[] }, lists: BlocklistSpec[], now: () => number): RunChecks {
  return async (opts) => {
    const startedAt = new Date(now()).toISOString();
    if (opts.only && !opts.only.includes("blocklist")) return { startedAt, results: [] };
    const jobs: Array<Promise<WatchedResult>> = [];
    for (const l of lists) {
      for (const subject of l.kind === "ip" ? subjects.ips : subjects.domains) {
        jobs.push(
          checkList(resolve, subject, l.zone, l.kind).then((a): WatchedResult => {
            const id = `blocklist.${l.zone}.${subject}`;
            const base = { id, subject, group: "blocklist" as const };
            if (a.status === "clean") return { ...base, status: "ok", message: `${subject} is not listed on ${l.zone}` };
            if (a.status === "unknown") return { ...base, status: "unknown", message: `${l.zone} cannot be trusted right now (${a.detail ?? "no answer"}); ${subject} is neither listed nor clean` };
            const zen = a.codes.map(zenMeaning).find((m) => m);
            return {
              ...base,
              status: "fail",
              message: `${subject} is listed on ${l.zone}${zen ? ` (${zen.list})` : ""}: ${a.codes.join(", ")}${a.reason ? ` — ${a.reason}` : ""}`,
              fix: zen?.fix ?? `find why ${subject} is listed, stop the cause, then ask ${l.zone} for removal`,
            };
          }),
        );
      }
    }
    return { startedAt, results: await Promise.all(jobs) };
  };
}
