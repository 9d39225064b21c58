// The differential suite's own machinery: the normalizer keeps apart what must stay apart and
// merges only what the RFC lets servers say differently, and the comparison reports a
// difference no rule explains. (No servers: runs everywhere.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { Normalizer, canonSet } from "./normalize.ts";
import { compareScript, loadExpectations } from "./compare.ts";
import { loadAllScripts, parseScripts } from "./script.ts";

const caps = new Set(["IMAP4REV1", "IDLE", "APPENDLIMIT"]);
const b = (s: string): Buffer => Buffer.from(s, "latin1");

test("sequence sets are merged and sorted, '*' kept", () => {
  assert.equal(canonSet("3,1:2,5"), "1:3,5");
  assert.equal(canonSet("5:2"), "2:5");
  assert.equal(canonSet("1:*"), "1:*");
});

test("strings, status text, flags and FETCH items normalize; values that differ stay different", () => {
  const n = new Normalizer({ capabilities: caps, now: Date.UTC(2026, 0, 10) });
  assert.deepEqual(
    n.step([b('* 1 FETCH (UID 4 FLAGS (\\Seen $X))\r\n'), b("* 1 FETCH (BODY[] {5}\r\nhello)\r\n"), b("a OK [READ-WRITE] done, thanks\r\n")]),
    ['* 1 FETCH (BODY[] hello FLAGS ($X \\seen) UID 4)', "a OK [READ-WRITE]"],
  );
  assert.deepEqual(n.step([b('* LIST (\\HasNoChildren) "/" "INBOX"\r\n')]), n.step([b("* LIST (\\hasnochildren) / INBOX\r\n")]));
  assert.notDeepEqual(n.step([b("* 1 FETCH (FLAGS (\\Seen))\r\n")]), n.step([b("* 1 FETCH (FLAGS (\\Seen \\Flagged))\r\n")]));
  assert.notDeepEqual(n.step([b("* SEARCH 1 2\r\n")]), n.step([b("* SEARCH 1 3\r\n")]));
  // A CAPABILITY code is the untagged response; capabilities outside the compared set go.
  assert.deepEqual(n.step([b("a OK [CAPABILITY IMAP4rev1 SORT APPENDLIMIT=5 IDLE] Logged in\r\n")]), ["* CAPABILITY APPENDLIMIT IDLE IMAP4REV1", "a OK"]);
  // " 1-Jan" is "01-Jan"; a date near now is <now>.
  assert.deepEqual(n.step([b('* 1 FETCH (INTERNALDATE " 1-Jan-2025 08:00:00 +0000")\r\n')]), ['* 1 FETCH (INTERNALDATE "01-Jan-2025 08:00:00 +0000")']);
  assert.deepEqual(n.step([b('* 1 FETCH (INTERNALDATE "10-Jan-2026 08:00:00 +0000")\r\n')]), ["* 1 FETCH (INTERNALDATE <now>)"]);
});

test("untagged responses sort, but EXPUNGEs keep their order", () => {
  const n = new Normalizer({ capabilities: caps });
  assert.deepEqual(n.step([b("* 3 EXPUNGE\r\n"), b("* 2 EXISTS\r\n"), b("* 1 EXPUNGE\r\n"), b("a OK\r\n")]), ["* 2 EXISTS", "* 3 EXPUNGE", "* 1 EXPUNGE", "a OK"]);
  assert.notDeepEqual(n.step([b("* 1 EXPUNGE\r\n"), b("* 3 EXPUNGE\r\n")]), n.step([b("* 3 EXPUNGE\r\n"), b("* 1 EXPUNGE\r\n")]));
});

test("mod-sequences compare by rank within the script", () => {
  const n = new Normalizer({ capabilities: caps });
  const lines = [...n.step([b("* OK [HIGHESTMODSEQ 900]\r\n")]), ...n.step([b("* 1 FETCH (MODSEQ (1000))\r\n")])];
  assert.deepEqual(n.finish(lines), ["* OK [HIGHESTMODSEQ M1]", "* 1 FETCH (MODSEQ (M2))"]);
});

test("a difference no rule explains is reported; intended ones are not", () => {
  const ex = loadExpectations();
  const same = [{ label: "C1> a1 NOOP", lines: ["a1 OK"] }];
  assert.equal(compareScript("x/y", same, same, ex).diffs.length, 0);
  const off = compareScript("x/y", same, [{ label: "C1> a1 NOOP", lines: ["a1 BAD"] }], ex);
  assert.equal(off.diffs.length, 1);
  // capabilities-dovecot-lacks: Freehold's UTF8=ACCEPT is intended.
  const capsD = [{ label: "C1> a1 CAPABILITY", lines: ["* CAPABILITY IMAP4REV1", "a1 OK"] }];
  const capsF = [{ label: "C1> a1 CAPABILITY", lines: ["* CAPABILITY IMAP4REV1 UTF8=ACCEPT", "a1 OK"] }];
  const r = compareScript("x/y", capsD, capsF, ex);
  assert.equal(r.diffs.length, 0);
  assert.deepEqual(r.intended.map((i) => i.rules), [["capabilities-dovecot-lacks"]]);
});

test("the corpus parses: several hundred uniquely named scripts, each with steps", () => {
  const all = loadAllScripts();
  assert.ok(all.length >= 300, `${all.length} scripts`);
  assert.throws(() => parseScripts("### a\nC1> x NOOP\n### a\nC1> y NOOP\n", "t.imap"), /two scripts named a/);
  assert.throws(() => parseScripts("### a\nnonsense\n", "t.imap"), /cannot read/);
});
