// The fault DNS server (dns-fault.ts) as its own process, for tests whose server runs inside a
// network namespace (netns.ts) where this test process cannot bind. Argument: one JSON object
//   { host, port, mode, records }
// mode: "answer" (from `records`, NXDOMAIN for the rest), "drop", "servfail",
// "truncate-reset" (TC over UDP, then the TCP connection is reset). A line "mode X" on stdin
// switches modes (the network coming back). Prints "READY host:port" once bound.
import { createInterface } from "node:readline";
import type { Answer } from "dns-packet";
import { startFaultServer } from "./dns-fault.ts";
import type { FaultReply } from "./dns-fault.ts";

interface Spec {
  host: string;
  port: number;
  mode: string;
  /** "name TYPE" (lower-case name) → the records to answer. */
  records: Record<string, Answer[]>;
}

const spec = JSON.parse(process.argv[2] ?? "{}") as Spec;
let mode = spec.mode;

const srv = await startFaultServer(
  (q): FaultReply => {
    if (mode === "drop") return { kind: "drop" };
    if (mode === "servfail") return { kind: "rcode", rcode: "SERVFAIL" };
    if (mode === "truncate-reset") return { kind: "truncate-then-reset" };
    const rrs = spec.records[`${q.name.toLowerCase()} ${q.type}`];
    if (rrs) return { kind: "answer", answers: rrs };
    const exists = Object.keys(spec.records).some((k) => k.startsWith(`${q.name.toLowerCase()} `));
    return { kind: "rcode", rcode: exists ? "NOERROR" : "NXDOMAIN" };
  },
  { host: spec.host, port: spec.port },
);
process.stdout.write(`READY ${srv.address}\n`);

createInterface({ input: process.stdin }).on("line", (line) => {
  const m = /^mode (\S+)$/.exec(line.trim());
  if (m) {
    mode = m[1];
    process.stdout.write(`MODE ${mode}\n`);
  }
});
process.on("SIGTERM", () => void srv.close().then(() => process.exit(0)));
