// Differential test: every .eml of ../shared/vectors/mime, our fixtures and generated messages are
// APPENDed to a real Dovecot on loopback, and RFC822.SIZE, ENVELOPE, BODY, BODYSTRUCTURE, BODY[],
// HEADER, TEXT, HEADER.FIELDS[.NOT], every BODY[part], BODY[part.MIME] and HEADER/TEXT of every
// encapsulated message are compared with what src/mail computes for the same bytes. The
// normalisation rules R1-R5, each a general rule with its RFC, are in dovecot-compare.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { dovecotUnavailable, startDovecot, RawImapClient } from "../support/dovecot.ts";
import { fetchItems } from "./imap-sexp.ts";
import {
  canonical,
  compareAnswers,
  compareRawWithCanonical,
  fetchAttributes,
  loadCorpus,
  mimeDir,
  modelAnswers,
  sectionsFor,
} from "./dovecot-compare.ts";

const CI = process.env.CI === "true";
const GEN_SEED = Number(process.env.MIME_GEN_SEED ?? 20261123);
const GEN_COUNT = Number(process.env.MIME_GEN_COUNT ?? 150);

test("src/mail matches Dovecot on the MIME vectors, our fixtures and generated messages", { timeout: 120_000 }, async (t) => {
  const { vectors, all } = loadCorpus(GEN_SEED, GEN_COUNT);
  if (vectors.length === 0) {
    if (CI) assert.fail(`no .eml vectors under ${mimeDir} (CI=true)`);
    console.log(`SKIPPED dovecot-diff: MIME vectors missing at ${mimeDir}`);
    t.skip(`MIME vectors missing at ${mimeDir}`);
    return;
  }
  const why = dovecotUnavailable();
  if (why !== undefined) {
    if (CI) assert.fail(`Dovecot unavailable under CI: ${why}`);
    console.log(`SKIPPED dovecot-diff: ${why}`);
    t.skip(why);
    return;
  }
  const peer = await startDovecot();
  const diffs: string[] = [];
  let compared = 0;
  let messages = 0;
  try {
    const c = await RawImapClient.connect(peer.port);
    assert.match((await c.command(`LOGIN ${peer.user} ${peer.password}`)).tagged, /^T\d+ OK/);
    for (const m of all) assert.match((await c.command("APPEND INBOX", m.raw)).tagged, /^T\d+ OK/, `APPEND ${m.name}`);
    assert.match((await c.command("SELECT INBOX")).tagged, /^T\d+ OK/);
    for (let n = 1; n <= all.length; n++) {
      const { name, raw } = all[n - 1];
      const canon = canonical(raw);
      const sections = sectionsFor(canon);
      const res = await c.command(`FETCH ${n} (${fetchAttributes(sections)})`);
      assert.match(res.tagged, /^T\d+ OK/, `FETCH ${name}: ${res.tagged}`);
      const line = res.untagged.find((u) => / FETCH /.test(u.toString("latin1", 0, 40)));
      assert.ok(line, `no FETCH response for ${name}`);
      const a = compareAnswers(name, canon, sections, fetchItems(line), modelAnswers(canon, sections));
      const b = compareRawWithCanonical(name, raw, canon, sections);
      compared += a.compared + b.compared;
      diffs.push(...a.diffs, ...b.diffs);
      messages++;
    }
    await c.close();
  } finally {
    await peer.stop();
  }
  console.log(`dovecot-diff: ${messages} messages (${vectors.length} vectors), ${compared} fields compared, ${diffs.length} unexplained differences`);
  for (const d of diffs.slice(0, 40)) console.log(d);
  assert.ok(messages > 0 && compared > 0, "nothing was compared");
  assert.equal(diffs.length, 0, `${diffs.length} unexplained differences`);
});
