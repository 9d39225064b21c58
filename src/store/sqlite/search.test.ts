import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { openSearchIndex } from "./search.ts";
import type { SearchDoc } from "./search.ts";

const doc = (uidValidity: number, uid: number, body: string, extra: Partial<SearchDoc> = {}): SearchDoc => ({
  uidValidity, uid, from: "Ann <ann@example.org>", to: "", cc: "", bcc: "", subject: `s${uid}`, headers: `Subject: s${uid}`, body, sentDay: null, ...extra,
});

test("search index: substrings of any length, case-insensitive, per UIDVALIDITY, remove, missing", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "freehold-search-"));
  const ix = openSearchIndex(dir);
  try {
    await ix.add([doc(7, 1, "The quick brown fox"), doc(7, 2, "Lazy DOG"), doc(8, 1, "quick as well")]);
    assert.deepEqual([...(await ix.match(7, "body", "QUICK"))], [1]);
    assert.deepEqual([...(await ix.match(7, "body", "ck bro"))], [1]);
    assert.deepEqual([...(await ix.match(7, "body", "og"))].sort(), [2], "two characters");
    assert.deepEqual([...(await ix.match(7, "text", "s2"))], [2], "TEXT covers headers");
    assert.deepEqual([...(await ix.match(7, "from", "ann@"))].sort(), [1, 2]);
    assert.deepEqual([...(await ix.match(8, "body", "quick"))], [1], "other UIDVALIDITY apart");
    assert.deepEqual(await ix.missing(7, [1, 2, 3]), [3]);
    await ix.add([doc(7, 1, "duplicate ignored")]);
    assert.deepEqual([...(await ix.match(7, "body", "duplicate"))], []);
    await ix.remove(7, [1]);
    assert.deepEqual([...(await ix.match(7, "body", "quick"))], []);
    assert.deepEqual(await ix.missing(7, [1, 2]), [1]);
    assert.equal((await ix.headers(7, [2])).get(2), "Subject: s2");
  } finally {
    await ix.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("search index: removeMailbox drops one UIDVALIDITY's documents, text and all, and no other's", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "freehold-search-"));
  const ix = openSearchIndex(dir);
  try {
    await ix.add([doc(7, 1, "secret words"), doc(7, 2, "more secret"), doc(8, 1, "secret of another")]);
    await ix.removeMailbox(7);
    assert.deepEqual([...(await ix.match(7, "body", "secret"))], []);
    assert.deepEqual([...(await ix.match(7, "body", "se"))], []);
    assert.deepEqual(await ix.missing(7, [1, 2]), [1, 2]);
    assert.deepEqual([...(await ix.match(8, "body", "secret"))], [1]);
    // The trigram table holds no row of the removed documents either.
    const db = new DatabaseSync(path.join(dir, "search.sqlite"), { readOnly: true });
    assert.equal((db.prepare("SELECT count(*) AS n FROM fts").get() as { n: number }).n, 1);
    db.close();
  } finally {
    await ix.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("search index: a file from an older version is dropped and rebuilt (documents are derived data)", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "freehold-search-"));
  try {
    // Version 1 layout: sent_date held a UTC instant; user_version was never set.
    const { DatabaseSync } = await import("node:sqlite");
    const old = new DatabaseSync(path.join(dir, "search.sqlite"));
    old.exec("CREATE TABLE docs (id INTEGER PRIMARY KEY AUTOINCREMENT, uidv INTEGER NOT NULL, uid INTEGER NOT NULL, sent_date INTEGER, UNIQUE (uidv, uid))");
    old.exec("CREATE VIRTUAL TABLE fts USING fts5(f_from, f_to, f_cc, f_bcc, f_subject, f_headers, f_body, tokenize = 'trigram')");
    old.exec("INSERT INTO docs (uidv, uid, sent_date) VALUES (7, 1, 1174773600000)");
    old.exec("INSERT INTO fts (rowid, f_body) VALUES (1, 'old text')");
    old.close();
    let ix = openSearchIndex(dir);
    assert.deepEqual(await ix.missing(7, [1]), [1], "old documents dropped, so they are indexed again");
    assert.deepEqual([...(await ix.match(7, "body", "old text"))], []);
    await ix.add([doc(7, 1, "new text", { sentDay: 13597 })]);
    await ix.close();
    ix = openSearchIndex(dir);
    assert.deepEqual(await ix.missing(7, [1]), [], "a current file is kept on reopen");
    assert.equal((await ix.sentDays(7)).get(1), 13597);
    await ix.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
