// Child of mta-sts.test.ts, started with NODE_EXTRA_CA_CERTS = the test CA so that mailauth's
// HTTPS policy fetch trusts the test policy server. argv: a JSON config. Prints a JSON result.
import https from "node:https";
import fs from "node:fs/promises";
import { queueFixture, message, SENDER } from "../queue/fixture.ts";
import { startScriptedPeer } from "./peers.ts";
import { MtaStsPolicies } from "../../src/delivery/mta-sts.ts";
import { silentLogger } from "../../src/log/logger.ts";

const cfg = JSON.parse(process.argv[2]) as { certFile: string; keyFile: string; mxCertFile: string; mxKeyFile: string };
const policies: Record<string, string> = {
  "mta-sts.sts.test": "version: STSv1\r\nmode: enforce\r\nmx: mx.sts.test\r\nmax_age: 86400\r\n",
  "mta-sts.bad.test": "version: STSv1\r\nmode: enforce\r\nmx: mx.bad.test\r\nmax_age: 86400\r\n",
};
let fetches = 0;
const web = https.createServer({ cert: await fs.readFile(cfg.certFile), key: await fs.readFile(cfg.keyFile) }, (req, res) => {
  fetches++;
  const body = policies[(req.headers.host ?? "").split(":")[0]];
  if (req.url !== "/.well-known/mta-sts.txt" || !body) return res.writeHead(404).end();
  res.writeHead(200, { "content-type": "text/plain" }).end(body);
});
await new Promise<void>((r) => web.listen(443, "127.0.0.81", r));
const peer = await startScriptedPeer({ host: "127.0.0.82", tls: { cert: cfg.mxCertFile, key: cfg.mxKeyFile } });
const zone = (d: string, id: string) => ({
  "@": { NS: [`ns.${d}.`], MX: [[10, `mx.${d}.`]] as Array<[number, string]> },
  ns: { A: ["127.0.0.1"] },
  mx: { A: ["127.0.0.82"] },
  "mta-sts": { A: ["127.0.0.81"] },
  "_mta-sts": { TXT: [`v=STSv1; id=${id}`] },
});
const zones = { "sts.test": zone("sts.test", "1"), "bad.test": zone("bad.test", "1") };
const logger = silentLogger();
// A first fixture only for its resolver (the policies object must exist before the runner).
const f = await queueFixture({ zones });
const sts = new MtaStsPolicies({ resolver: f.resolver, logger });
const g = await queueFixture({ zones, transport: { mxPort: peer.port, mtaSts: sts } });
const ok = await g.enqueue({ mailFrom: SENDER, recipients: [{ recipient: "a@sts.test" }], body: message("sts ok", SENDER, "a@sts.test") });
const bad = await g.enqueue({ mailFrom: SENDER, recipients: [{ recipient: "b@bad.test" }], body: message("sts bad", SENDER, "b@bad.test") });
await g.runner.runOnce();
const fetchesAfterFirst = fetches;
const ok2 = await g.enqueue({ mailFrom: SENDER, recipients: [{ recipient: "c@sts.test" }], body: message("sts again", SENDER, "c@sts.test") });
await g.runner.runOnce();
const result = {
  okEntry: await g.storage.store.queue.get(ok),
  badEntry: await g.storage.store.queue.get(bad),
  ok2Entry: await g.storage.store.queue.get(ok2),
  received: (await peer.received()).map((m) => ({ rcpt: m.rcpt_tos, tls: m.tls })),
  fetchesAfterFirst,
  fetchesAfterSecond: fetches,
};
process.stdout.write(JSON.stringify(result) + "\n");
await g.close();
await f.close();
await peer.stop();
web.close();
