// `freehold user remove` (another process: it only changes the database) ends the removed
// user's open IMAP sessions at the server's next sweep; other users' sessions go on.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../src/clock.ts";
import { SYSTEM } from "../../src/accounts/authz.ts";
import { PASSWORD, USER, sampleMessage, startHarness } from "./harness.ts";
import { RawClient } from "./raw-client.ts";

test("sessions of a removed user end at the next sweep with BYE; another user's stay", async () => {
  const clock = new ManualClock(Date.now());
  const h = await startHarness({ clock, limits: { sweepMs: 3_600_000 } });
  try {
    await h.deliver("INBOX", sampleMessage(1));
    const other = "bob@example.test";
    await h.accounts.addUser(SYSTEM, { address: other, password: PASSWORD });
    const a1 = await RawClient.connect(h.port);
    const a2 = await RawClient.connect(h.port);
    const b = await RawClient.connect(h.port);
    await a1.login(USER, PASSWORD);
    await a2.login(USER, PASSWORD);
    await b.login(other, PASSWORD);
    await a1.cmd("SELECT INBOX");
    a2.send("i1 IDLE\r\n");
    assert.match(await a2.line(), /^\+ /);
    // A sweep while the user exists changes nothing.
    await h.server.sweep();
    assert.equal((await a1.cmd("NOOP")).status, "OK");
    // What the CLI does, in the database only (no call into this server).
    await h.store.accounts.removeUser(h.user.id);
    await h.server.sweep();
    assert.match(await a1.line(), /^\* BYE Account removed/);
    assert.match(await a2.line(), /^\* BYE Account removed/);
    // The server closes both connections after its BYE.
    await assert.rejects(a1.line(), /connection closed/);
    await assert.rejects(a2.line(), /connection closed/);
    assert.equal((await b.cmd("NOOP")).status, "OK");
    for (let i = 0; i < 100 && h.server.connections > 1; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(h.server.connections, 1);
    b.send("z LOGOUT\r\n");
  } finally {
    await h.close();
  }
});
