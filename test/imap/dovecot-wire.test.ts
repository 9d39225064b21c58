// Differential test through the wire: every message of ../shared/vectors/mime, our fixtures and
// generated messages (test/mail/dovecot-compare.ts) is APPENDed to a real Dovecot and to our
// server, the same FETCH (RFC822.SIZE, ENVELOPE, BODY, BODYSTRUCTURE, BODY[], HEADER, TEXT,
// HEADER.FIELDS[.NOT], every BODY[part] and BODY[part.MIME], HEADER/TEXT of encapsulated
// messages) goes to both, and the answers are compared under the general rules of
// dovecot-compare.ts (R1-R5), plus two for the wire:
//  W1 (R1 on the wire) Dovecot stores bare LF as CRLF; we store what was appended (issue 3:
//     BODY[] is byte-identical, checked in mime-vectors.test.ts). So both servers are given the
//     canonical bytes here, and the comparison is of equal input.
//  W2 (R4 on the wire) A quoted local part keeps its DQUOTEs in our ENVELOPE (RFC 5322 §3.4.1,
//     RFC 3501 §7.4.2 sends the local-part); Dovecot sends the content. Our answers' address
//     mailbox fields are compared unquoted, in ENVELOPE and inside BODYSTRUCTURE.
//  W3 NUL octets in APPEND data need literal8 (RFC 3516 §4.2, RFC 9051 §4.3: a literal is
//     CHAR8, no NUL); Dovecot takes them in a plain literal too, so we are sent literal8.
import { test } from "node:test";
import assert from "node:assert/strict";
import { dovecotUnavailable, startDovecot, RawImapClient } from "../support/dovecot.ts";
import { fetchItems } from "../mail/imap-sexp.ts";
import type { Sexp } from "../mail/imap-sexp.ts";
import { canonical, compareAnswers, fetchAttributes, loadCorpus, mimeDir, sectionsFor } from "../mail/dovecot-compare.ts";
import { PASSWORD, USER, startHarness } from "./harness.ts";
import { RawClient } from "./raw-client.ts";

const CI = process.env.CI === "true";

function unquote(m: Sexp): Sexp {
  if (!Buffer.isBuffer(m) && typeof m !== "string") return m;
  const s = Buffer.isBuffer(m) ? m.toString("latin1") : m;
  if (!s.startsWith('"') || !s.endsWith('"') || s.length < 2) return m;
  const u = s.slice(1, -1).replace(/\\(.)/g, "$1");
  return Buffer.isBuffer(m) ? Buffer.from(u, "latin1") : u;
}

/** W2 on an ENVELOPE value. */
function w2Envelope(e: Sexp): Sexp {
  if (!Array.isArray(e)) return e;
  return e.map((field, i) => {
    if (i < 2 || i > 7 || !Array.isArray(field)) return field;
    return field.map((a) => (Array.isArray(a) && a[3] !== null ? [a[0], a[1], unquote(a[2]), a[3]] : a));
  });
}

/** W2 inside a BODY/BODYSTRUCTURE value: message/rfc822 parts carry an envelope and a body. */
function w2Structure(b: Sexp): Sexp {
  if (!Array.isArray(b)) return b;
  if (Array.isArray(b[0])) return b.map((x) => (Array.isArray(x) ? w2Structure(x) : x));
  const type = String(b[0] ?? "").toLowerCase();
  const sub = String(b[1] ?? "").toLowerCase();
  if (type === "message" && (sub === "rfc822" || sub === "global") && b.length > 8) {
    return b.map((x, i) => (i === 7 ? w2Envelope(x) : i === 8 ? w2Structure(x) : x));
  }
  return b;
}

test("our IMAP server answers like Dovecot on the MIME corpus", { timeout: 180_000 }, async (t) => {
  const { vectors, all } = loadCorpus(Number(process.env.MIME_GEN_SEED ?? 20261123), Number(process.env.MIME_GEN_COUNT ?? 150));
  if (vectors.length === 0) {
    if (CI) assert.fail(`no .eml vectors under ${mimeDir} (CI=true)`);
    t.skip(`MIME vectors missing at ${mimeDir}`);
    return;
  }
  const why = dovecotUnavailable();
  if (why !== undefined) {
    if (CI) assert.fail(`Dovecot unavailable under CI: ${why}`);
    t.skip(why);
    return;
  }
  const peer = await startDovecot();
  const h = await startHarness();
  const diffs: string[] = [];
  let compared = 0;
  try {
    const dc = await RawImapClient.connect(peer.port);
    assert.match((await dc.command(`LOGIN ${peer.user} ${peer.password}`)).tagged, /^T\d+ OK/);
    const up = await RawClient.connect(h.port);
    await up.login(USER, PASSWORD);
    for (const m of all) {
      const canon = canonical(m.raw);
      assert.match((await dc.command("APPEND INBOX", canon)).tagged, /^T\d+ OK/, `Dovecot APPEND ${m.name}`);
      up.send(`A APPEND INBOX ${canon.includes(0) ? "~" : ""}{${canon.length}+}\r\n`); // W3
      up.send(Buffer.concat([canon, Buffer.from("\r\n")]));
      const r = await up.until("A");
      assert.equal(r.status, "OK", `our APPEND ${m.name}: ${r.text}`);
    }
    up.close();
    const fc = await RawImapClient.connect(h.port);
    assert.match((await fc.command(`LOGIN "${USER}" "${PASSWORD}"`)).tagged, /^T\d+ OK/);
    for (const c of [dc, fc]) assert.match((await c.command("SELECT INBOX")).tagged, /^T\d+ OK/);
    for (let n = 1; n <= all.length; n++) {
      const { name, raw } = all[n - 1];
      const canon = canonical(raw);
      const sections = sectionsFor(canon);
      const items = async (c: RawImapClient, who: string): Promise<Map<string, Sexp>> => {
        const res = await c.command(`FETCH ${n} (${fetchAttributes(sections)})`);
        assert.match(res.tagged, /^T\d+ OK/, `${who} FETCH ${name}: ${res.tagged}`);
        const line = res.untagged.find((u) => / FETCH /.test(u.toString("latin1", 0, 40)));
        assert.ok(line, `${who}: no FETCH response for ${name}`);
        return fetchItems(line);
      };
      const theirs = await items(dc, "Dovecot");
      const ours = await items(fc, "Freehold");
      for (const k of ["ENVELOPE"]) if (ours.has(k)) ours.set(k, w2Envelope(ours.get(k)!));
      for (const k of ["BODY", "BODYSTRUCTURE"]) if (ours.has(k)) ours.set(k, w2Structure(ours.get(k)!));
      const r = compareAnswers(name, canon, sections, theirs, ours);
      compared += r.compared;
      diffs.push(...r.diffs.map((d) => d.replace("freehold:", "freehold (wire):")));
    }
    await dc.close();
    await fc.close();
  } finally {
    await h.close();
    await peer.stop();
  }
  console.log(`# dovecot-wire: ${all.length} messages (${vectors.length} vectors), ${compared} fields compared, ${diffs.length} unexplained differences`);
  for (const d of diffs.slice(0, 20)) console.log(d);
  assert.ok(compared > 0, "nothing was compared");
  assert.equal(diffs.length, 0, `${diffs.length} unexplained differences`);
});
