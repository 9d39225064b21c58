// The smtp-out case's relay, set up the way an operator does it: `freehold relay add` and
// `freehold relay route set` (they validate and write <data>/relays.yaml, src/delivery/relays.ts).
import path from "node:path";
import { run } from "../../test/support/peer-util.ts";
import { Unavailable } from "./freehold-server.ts";

/** Relay `name` at 127.0.0.1:`port` without TLS (allowed on loopback only), and `domain` routed to it. */
export async function addLoopbackRelay(root: string, data: string, name: string, port: number, domain: string): Promise<void> {
  const cli = path.join(root, "src", "cli", "main.ts");
  for (const args of [
    ["relay", "add", name, "--host", "127.0.0.1", "--port", String(port), "--tls", "none"],
    ["relay", "route", "set", "recipient-domain", domain, name],
  ]) {
    const r = await run(process.execPath, [cli, "--data", data, ...args], { cwd: root, timeoutMs: 60_000 });
    if (r.code !== 0) throw new Unavailable(`\`freehold ${args.join(" ")}\` failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().split("\n")[0]}`);
  }
}
