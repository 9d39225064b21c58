import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { SmtpReader } from "./reader.ts";

const enc = (s: string) => Buffer.from(s, "latin1");
const dec = (b: Uint8Array) => Buffer.from(b).toString("latin1");

/**
 * Drives a reader as the session would: "DATA" switches to data mode, "BDAT n" to chunk mode.
 * Returns a transcript that does not depend on how the input was split.
 */
function transcript(chunks: readonly Uint8Array[], maxLine = 512, normalizeBareLf = true): string[] {
  const r = new SmtpReader(maxLine);
  const out: string[] = [];
  let content = "";
  const drain = () => {
    for (let ev = r.next(); ev; ev = r.next()) {
      switch (ev.kind) {
        case "line": {
          const line = dec(ev.line);
          out.push(`L:${line}${ev.bareLf ? " (bare)" : ""}`);
          const m = /^BDAT (\d+)/.exec(line);
          if (line === "DATA") r.startData({ normalizeBareLf });
          else if (m) r.startChunk(Number(m[1]));
          break;
        }
        case "line-too-long":
          out.push("TOO-LONG");
          break;
        case "content":
          content += dec(ev.bytes);
          break;
        case "content-end":
          out.push(`C:${JSON.stringify(content)}${r.bareLfCount > 0 && line0(out) ? ` bareLf=${r.bareLfCount}` : ""}`);
          content = "";
          break;
      }
    }
  };
  for (const c of chunks) {
    r.push(c);
    drain();
  }
  if (content !== "") out.push(`PARTIAL:${JSON.stringify(content)}`);
  out.push(`MODE:${r.mode}`);
  return out;
}

// The bare-LF count is only meaningful after DATA (BDAT leaves it alone).
function line0(out: string[]): boolean {
  return out.findLast((l) => l.startsWith("L:")) === "L:DATA";
}

/** The transcript must be the same for the whole input, every two-way split and byte by byte. */
function assertEverySplit(input: string, maxLine = 512, normalizeBareLf = true): string[] {
  const b = enc(input);
  const whole = transcript([b], maxLine, normalizeBareLf);
  for (let i = 0; i <= b.length; i++) {
    assert.deepEqual(transcript([b.subarray(0, i), b.subarray(i)], maxLine, normalizeBareLf), whole, `split at ${i} of ${JSON.stringify(input)}`);
  }
  const bytes = [...b].map((x) => Uint8Array.of(x));
  assert.deepEqual(transcript(bytes, maxLine, normalizeBareLf), whole, "byte by byte");
  return whole;
}

test("command lines end at CRLF; bare LF lines are accepted and flagged", () => {
  assert.deepEqual(assertEverySplit("EHLO a\r\nNOOP\nQUIT\r\n"), ["L:EHLO a", "L:NOOP (bare)", "L:QUIT", "MODE:line"]);
});

test("a line without its end stays buffered", () => {
  assert.deepEqual(assertEverySplit("EHLO a\r\nNOO"), ["L:EHLO a", "MODE:line"]);
});

test("DATA content is dot-unstuffed and ends only at CRLF.CRLF", () => {
  const t = assertEverySplit("DATA\r\nSubject: x\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n");
  assert.deepEqual(t, ['L:DATA', 'C:"Subject: x\\r\\n\\r\\n.leading dot\\r\\n"', "L:QUIT", "MODE:line"]);
});

test("an immediate dot line is an empty message", () => {
  assert.deepEqual(assertEverySplit("DATA\r\n.\r\nNOOP\r\n"), ["L:DATA", 'C:""', "L:NOOP", "MODE:line"]);
});

test("smuggling sequences never end DATA, with or without normalizing", () => {
  // The payloads of issue 18 and CVE-2023-51764/51765/51766, NUL variants included.
  const fakes = ["\n.\n", "\n.\r\n", "\r.\r", "\r\n.\n", "\r.\r\n", "\n.\r", "\0\r\n.\r\n", "\r\n.\0\r\n", "\r\n\0.\r\n", "\n\0.\n", "\r\n.\r\0\n"];
  for (const normalize of [true, false]) {
    for (const fake of fakes) {
      const input = `DATA\r\nbody${fake}MAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\nsmuggled\r\n.\r\n`;
      const t = assertEverySplit(input, 512, normalize);
      // "\0\r\n.\r\n" really ends the first message (a NUL is just an octet); everything else
      // keeps the "smuggled" commands inside it.
      if (fake === "\0\r\n.\r\n") {
        assert.equal(t[1], 'C:"body\\u0000\\r\\n"');
        assert.deepEqual(t.slice(2, 5), ["L:MAIL FROM:<evil@x>", "L:RCPT TO:<v@y>", "L:DATA"]);
        continue;
      }
      assert.equal(t.length, 3, JSON.stringify(fake));
      assert.equal(t[0], "L:DATA");
      assert.match(t[1], /MAIL FROM:<evil@x>.*smuggled/);
      assert.equal(t[2], "MODE:line");
    }
  }
});

test("bare LF lines are written as CRLF; a lone dot after a bare LF is content", () => {
  assert.deepEqual(assertEverySplit("DATA\r\na\nb\n\nc\r\n.\r\n"), ["L:DATA", 'C:"a\\r\\nb\\r\\n\\r\\nc\\r\\n" bareLf=3', "MODE:line"]);
  assert.deepEqual(assertEverySplit("DATA\r\na\n.\nb\r\n.\r\n"), ["L:DATA", 'C:"a\\r\\n.\\r\\nb\\r\\n" bareLf=2', "MODE:line"]);
  assert.deepEqual(assertEverySplit("DATA\r\na\n.\r\nb\r\n.\r\n"), ["L:DATA", 'C:"a\\r\\n.\\r\\nb\\r\\n" bareLf=1', "MODE:line"]);
  assert.deepEqual(assertEverySplit("DATA\r\na\r\n.\nb\r\n.\r\n"), ["L:DATA", 'C:"a\\r\\n.\\r\\nb\\r\\n" bareLf=1', "MODE:line"]);
  // A lone dot line after a bare LF, then the real end marker right after it.
  assert.deepEqual(assertEverySplit("DATA\r\na\n.\r\n.\r\nNOOP\r\n"), ["L:DATA", 'C:"a\\r\\n.\\r\\n" bareLf=1', "L:NOOP", "MODE:line"]);
  // Ending in bare LFs only, the message never ends: DATA needs <CRLF>.<CRLF>.
  assert.deepEqual(assertEverySplit("DATA\na\n.\n"), ["L:DATA (bare)", 'PARTIAL:"a\\r\\n.\\r\\n"', "MODE:data"]);
  // At the very start of DATA: ".<LF>" is a lone dot line, not the end.
  assert.deepEqual(assertEverySplit("DATA\r\n.\n.\r\n.\r\n"), ["L:DATA", 'C:".\\r\\n.\\r\\n" bareLf=1', "MODE:line"]);
});

test("without normalizing, the bytes stay as sent", () => {
  assert.deepEqual(assertEverySplit("DATA\r\na\n.\nb\n..c\r\n.\r\n", 512, false), ["L:DATA", 'C:"a\\n.\\nb\\n.c\\r\\n" bareLf=3', "MODE:line"]);
});

test("a dot after a bare LF is unstuffed like any line's", () => {
  const t = assertEverySplit("DATA\r\na\n..b\r\n.\r\n");
  assert.deepEqual(t, ["L:DATA", 'C:"a\\r\\n.b\\r\\n" bareLf=1', "MODE:line"]);
});

test("a bare CR is no line ending: the dot after it is content", () => {
  assert.deepEqual(assertEverySplit("DATA\r\na\r.\r\n..\r\n.\r\n"), ["L:DATA", 'C:"a\\r.\\r\\n.\\r\\n"', "MODE:line"]);
});

test("dot followed by CR and a non-LF octet drops the dot", () => {
  const t = assertEverySplit("DATA\r\n.\rx\r\n.\r\n");
  assert.deepEqual(t, ["L:DATA", 'C:"\\rx\\r\\n"', "MODE:line"]);
});

test("BDAT chunks are exact octet counts with no unstuffing", () => {
  const t = assertEverySplit("BDAT 7\r\n.\r\nab\r\nBDAT 0 LAST\r\nNOOP\r\n");
  assert.deepEqual(t, ["L:BDAT 7", 'C:".\\r\\nab\\r\\n"', "L:BDAT 0 LAST", 'C:""', "L:NOOP", "MODE:line"]);
});

test("a command line over the limit is dropped up to its LF and reported once", () => {
  const long = "X".repeat(600);
  assert.deepEqual(assertEverySplit(`NOOP\r\n${long}\r\nQUIT\r\n`), ["L:NOOP", "TOO-LONG", "L:QUIT", "MODE:line"]);
  // Exactly at the limit (512 octets with CRLF) is fine; one more is not.
  assert.deepEqual(assertEverySplit(`${"Y".repeat(510)}\r\n`), [`L:${"Y".repeat(510)}`, "MODE:line"]);
  assert.deepEqual(assertEverySplit(`${"Y".repeat(511)}\r\n`), ["TOO-LONG", "MODE:line"]);
  assert.deepEqual(assertEverySplit(`${"Y".repeat(511)}\n`), ["TOO-LONG", "MODE:line"]);
});

test("NUL octets are framed like others", () => {
  assert.deepEqual(assertEverySplit("NO\0OP\r\nDATA\r\na\0b\r\n.\r\n"), ["L:NO\0OP", "L:DATA", 'C:"a\\u0000b\\r\\n"', "MODE:line"]);
});

test("discardBuffered drops pipelined input (STARTTLS injection)", () => {
  const r = new SmtpReader();
  r.push(enc("STARTTLS\r\nMAIL FROM:<x@y>\r\n"));
  const ev = r.next();
  assert.equal(ev?.kind, "line");
  assert.equal(r.discardBuffered(), "MAIL FROM:<x@y>\r\n".length);
  assert.equal(r.next(), null);
});

// Reference DATA decoder written from RFC 5321 §4.1.1.4 / §4.5.2 and Postfix's "normalize",
// as string ops: the end is the first <CRLF>.<CRLF> (counting the CRLF of the DATA command);
// every LF ends a line; a line starting with a dot loses it unless the line is just "."; bare
// LFs become CRLF when normalizing.
function referenceData(s: string, normalize = true): { content: string; rest: string } | null {
  const w = `\r\n${s}`;
  const idx = w.indexOf("\r\n.\r\n");
  if (idx < 0) return null;
  const raw = w.slice(2, idx + 2);
  const lines = raw.split(/(?<=\n)/);
  const content = lines
    .map((l) => (l.startsWith(".") && l !== ".\n" && l !== ".\r\n" ? l.slice(1) : l))
    .map((l) => (normalize ? l.replace(/(?<!\r)\n$/, "\r\n") : l))
    .join("");
  return { content, rest: w.slice(idx + 5) };
}

// The grammar's pieces plus the smuggling payloads of issue 18 as whole tokens.
const alphabet = fc.constantFrom("a", ".", "\r", "\n", "\r\n", ".\r\n", "\r\n.", "\0", "..", "Z", "\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r\n", ".\n");
const wireString = fc.array(alphabet, { maxLength: 40 }).map((a) => a.join(""));
const splits = fc.array(fc.nat(60), { maxLength: 6 });

function chunked(s: string, cuts: number[]): Uint8Array[] {
  const b = enc(s);
  const pts = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of pts) {
    out.push(b.subarray(prev, p));
    prev = p;
  }
  out.push(b.subarray(prev));
  return out;
}

test("fuzz: DATA framing matches the reference decoder under any chunking", () => {
  fc.assert(
    fc.property(wireString, splits, fc.boolean(), (s, cuts, normalize) => {
      const r = new SmtpReader();
      r.startData({ normalizeBareLf: normalize });
      let content = "";
      let ended = false;
      let rest = "";
      for (const c of chunked(s, cuts)) {
        r.push(c);
        for (let ev = r.next(); ev; ev = r.next()) {
          if (ev.kind === "content") content += dec(ev.bytes);
          else if (ev.kind === "content-end") ended = true;
          else if (ev.kind === "line") rest += `${dec(ev.line)}|`;
        }
      }
      const ref = referenceData(s, normalize);
      if (ref === null) {
        assert.equal(ended, false);
        return;
      }
      assert.equal(ended, true);
      assert.equal(content, ref.content);
      // Lines after the end are framed as commands.
      const expectLines = ref.rest.split("\n").slice(0, -1).map((l) => l.replace(/\r$/, "") + "|").join("");
      assert.equal(rest, expectLines);
    }),
    { numRuns: 400 },
  );
});

test("fuzz: dot-stuffed content round-trips (byte for byte, or with bare LF as CRLF)", () => {
  fc.assert(
    fc.property(wireString, splits, fc.boolean(), (body, cuts, normalize) => {
      const m = body.endsWith("\r\n") ? body : `${body}\r\n`;
      // Every LF ends a line, so a careful sender stuffs the dot after a bare LF too.
      const wire = `${m.replace(/(^|\n)\./g, "$1..")}.\r\n`;
      const r = new SmtpReader();
      r.startData({ normalizeBareLf: normalize });
      let content = "";
      let ended = 0;
      for (const c of chunked(wire, cuts)) {
        r.push(c);
        for (let ev = r.next(); ev; ev = r.next()) {
          if (ev.kind === "content") content += dec(ev.bytes);
          else if (ev.kind === "content-end") ended++;
        }
      }
      assert.equal(ended, 1);
      assert.equal(content, normalize ? m.replace(/(?<!\r)\n/g, "\r\n") : m);
      assert.equal(r.buffered, 0);
    }),
    { numRuns: 400 },
  );
});

test("fuzz: command framing is independent of chunking", () => {
  const lineAlphabet = fc.constantFrom("a", " ", "\r", "\n", "\r\n", "\0", "x".repeat(100));
  fc.assert(
    fc.property(fc.array(lineAlphabet, { maxLength: 30 }).map((a) => a.join("")), splits, (s, cuts) => {
      assert.deepEqual(transcript(chunked(s, cuts), 256), transcript([enc(s)], 256));
    }),
    { numRuns: 300 },
  );
});
