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

// Found by the IMAP session fuzzer (src/fuzz/imap-session.ts): the server closed the socket from
// the compressor's finish callback, before its last output, so the DEFLATE stream never ended
// (a strict inflater fails with "unexpected end of file") and output held back by back-pressure
// could be lost with it.
test("COMPRESS: LOGOUT's responses and the end of the DEFLATE stream arrive before the close", async () => {
  const h = await startHarness({ listener: { address: "127.0.22.4" } });
  try {
    const sock = net.connect(h.port, "127.0.22.4");
    let plain = "";
    const raw: Buffer[] = [];
    let compressed = false;
    const closed = new Promise<void>((r) => sock.on("close", () => r()));
    sock.on("data", (d: Buffer) => {
      if (compressed) raw.push(d);
      else plain += d.toString("latin1");
      if (!compressed && /\r\nb OK[^\r\n]*\r\n$/.test(plain)) {
        compressed = true;
        const deflate = zlib.createDeflateRaw();
        deflate.on("data", (c: Buffer) => sock.write(c));
        deflate.write("c NOOP\r\nd LOGOUT\r\n");
        deflate.flush(zlib.constants.Z_SYNC_FLUSH);
      }
    });
    await new Promise<void>((r) => sock.once("connect", () => r()));
    sock.write(`a LOGIN "${USER}" "${PASSWORD}"\r\nb COMPRESS DEFLATE\r\n`);
    await closed;
    // inflateRawSync without a lenient finishFlush throws when the stream has no final block.
    const text = zlib.inflateRawSync(Buffer.concat(raw)).toString("latin1");
    assert.match(text, /^c OK[^\r\n]*\r\n\* BYE[^\r\n]*\r\nd OK[^\r\n]*\r\n$/);
  } finally {
    await h.close();
  }
});
