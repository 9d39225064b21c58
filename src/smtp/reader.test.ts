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
function transcript(chunks: readonly Uint8Array[], maxLine = 512): string[] {
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
          if (line === "DATA") r.startData();
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
          out.push(`C:${JSON.stringify(content)}`);
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

/** The transcript must be the same for the whole input, every two-way split and byte by byte. */
function assertEverySplit(input: string, maxLine = 512): string[] {
  const b = enc(input);
  const whole = transcript([b], maxLine);
  for (let i = 0; i <= b.length; i++) {
    assert.deepEqual(transcript([b.subarray(0, i), b.subarray(i)], maxLine), whole, `split at ${i} of ${JSON.stringify(input)}`);
  }
  const bytes = [...b].map((x) => Uint8Array.of(x));
  assert.deepEqual(transcript(bytes, maxLine), whole, "byte by byte");
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

test("smuggling sequences never end DATA", () => {
  for (const fake of ["\n.\n", "\n.\r\n", "\r.\r", "\r\n.\n", "\r.\r\n", "\n.\r"]) {
    const input = `DATA\r\nbody${fake}MAIL FROM:<evil@x>\r\n.\r\n`;
    const t = assertEverySplit(input);
    assert.equal(t.length, 3, JSON.stringify(fake));
    assert.equal(t[0], "L:DATA");
    // The "smuggled" command stayed inside the first message.
    assert.match(t[1], /MAIL FROM:<evil@x>/);
    assert.equal(t[2], "MODE:line");
  }
});

test("a dot after a bare LF is content, not a stuffed dot", () => {
  const t = assertEverySplit("DATA\r\na\n..b\r\n.\r\n");
  assert.deepEqual(t, ["L:DATA", 'C:"a\\n..b\\r\\n"', "MODE:line"]);
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

// Reference DATA decoder written from RFC 5321 §4.1.1.4 and §4.5.2 directly, as string ops.
function referenceData(s: string): { content: string; rest: string } | null {
  const w = `\r\n${s}`;
  const idx = w.indexOf("\r\n.\r\n");
  if (idx < 0) return null;
  const raw = w.slice(2, idx + 2);
  return { content: raw.replace(/(^|\r\n)\./g, "$1"), rest: w.slice(idx + 5) };
}

const alphabet = fc.constantFrom("a", ".", "\r", "\n", "\r\n", ".\r\n", "\r\n.", "\0", "..", "Z");
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
    fc.property(wireString, splits, (s, cuts) => {
      const r = new SmtpReader();
      r.startData();
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
      const ref = referenceData(s);
      if (ref === null) {
        assert.equal(ended, false);
        // Everything handed out so far is a prefix of the unstuffed input.
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

test("fuzz: dot-stuffed content round-trips byte for byte", () => {
  fc.assert(
    fc.property(wireString, splits, (body, cuts) => {
      const m = body.endsWith("\r\n") ? body : `${body}\r\n`;
      const wire = `${m.replace(/(^|\r\n)\./g, "$1..")}.\r\n`;
      const r = new SmtpReader();
      r.startData();
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
      assert.equal(content, m);
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
