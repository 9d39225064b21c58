// RFC 4978 COMPRESS=DEFLATE on the wire: after the tagged OK both directions are raw DEFLATE;
// commands and responses (including a streamed message body) pass through it, and a second
// COMPRESS answers NO [COMPRESSIONACTIVE].
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import zlib from "node:zlib";
import { PASSWORD, USER, sampleMessage, startHarness } from "./harness.ts";

test("COMPRESS=DEFLATE: commands and responses through raw DEFLATE", async () => {
  const h = await startHarness();
  try {
    await h.deliver("INBOX", sampleMessage(1));
    const sock = net.connect(h.port, "127.0.0.1");
    let text = "";
    let inflate: zlib.InflateRaw | null = null;
    const waiters: Array<() => void> = [];
    const onText = (d: Buffer): void => {
      text += d.toString("latin1");
      waiters.splice(0).forEach((w) => w());
    };
    sock.on("data", (d: Buffer) => (inflate ? inflate.write(d) : onText(d)));
    const until = async (re: RegExp): Promise<string> => {
      while (!re.test(text)) await new Promise<void>((r) => waiters.push(r));
      const m = re.exec(text)!;
      const out = text.slice(0, m.index + m[0].length);
      text = text.slice(m.index + m[0].length);
      return out;
    };
    await until(/\r\n/);
    sock.write(`a LOGIN "${USER}" "${PASSWORD}"\r\n`);
    const login = await until(/^a .*\r\n/m);
    assert.match(login, /COMPRESS=DEFLATE/);
    sock.write("b COMPRESS DEFLATE\r\n");
    assert.match(await until(/^b .*\r\n/m), /^b OK/m);
    inflate = zlib.createInflateRaw();
    inflate.on("data", onText);
    const deflate = zlib.createDeflateRaw();
    deflate.on("data", (d: Buffer) => sock.write(d));
    const send = (s: string): void => {
      deflate.write(s);
      deflate.flush(zlib.constants.Z_SYNC_FLUSH);
    };
    send("c SELECT INBOX\r\n");
    const sel = await until(/^c .*\r\n/m);
    assert.match(sel, /\* 1 EXISTS/);
    assert.match(sel, /^c OK \[READ-WRITE\]/m);
    send("d FETCH 1 BODY.PEEK[]\r\n");
    const f = await until(/^d .*\r\n/m);
    assert.ok(f.includes(sampleMessage(1)), f);
    send("e COMPRESS DEFLATE\r\n");
    assert.match(await until(/^e .*\r\n/m), /^e NO \[COMPRESSIONACTIVE\]/m);
    send("f LOGOUT\r\n");
    assert.match(await until(/^f .*\r\n/m), /\* BYE/);
    sock.destroy();
  } finally {
    await h.close();
  }
});
