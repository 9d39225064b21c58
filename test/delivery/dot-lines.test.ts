// A message stored with lone "." lines (what the mx keeps of a bare-LF sender's "\n.\n", issue
// 18) is dot-stuffed again when relayed (RFC 5321 §4.5.2), so the next hop sees one whole
// message, never an early end of data with the rest read as commands.
import { test } from "node:test";
import assert from "node:assert/strict";
import { queueFixture, message, remoteZone, SENDER } from "../queue/fixture.ts";
import { startScriptedPeer } from "./peers.ts";

test("lone dot lines and leading dots reach the next hop intact, as one message", async (t) => {
  const peer = await startScriptedPeer({ host: "127.0.0.67" });
  t.after(() => peer.stop());
  const f = await queueFixture({ zones: remoteZone("127.0.0.67"), transport: { mxPort: peer.port } });
  t.after(() => f.close());
  const tail = "hi\r\n.\r\nMAIL FROM:<ceo@victim.test>\r\nRCPT TO:<bob@remote.test>\r\nDATA\r\n.\r\n..two dots\r\n.one dot\r\nend\r\n";
  const body = message("dots") + tail;
  const id = await f.enqueue({ mailFrom: SENDER, recipients: [{ recipient: "bob@remote.test" }], body });
  await f.runner.runOnce();
  assert.equal(await f.storage.store.queue.get(id), null);
  const got = await peer.received();
  assert.equal(got.length, 1, "one message at the next hop");
  assert.ok(got[0].data.endsWith(tail), JSON.stringify(got[0].data.slice(-160)));
  assert.deepEqual(got[0].rcpt_tos, ["bob@remote.test"]);
});
