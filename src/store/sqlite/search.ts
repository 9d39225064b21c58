// The search index (storage by role, STYLE.md §6): SQLite FTS5 with the trigram tokenizer, in
// its own file <data>/search.sqlite. It is derived data: losing it loses nothing (it is rebuilt
// lazily), so it does not share the metadata transaction or its fsync cost (synchronous=NORMAL).
//
// RFC 3501 §6.4.4 / RFC 9051 §6.4.4: SEARCH string keys match substrings, case-insensitively.
// A trigram index answers any substring of 3+ characters from the index; a shorter string
// cannot use trigrams, so it is checked with instr() over the stored text of the one mailbox's
// documents only (the candidate set), never by reading message blobs.
//
// Documents are keyed by (UIDVALIDITY, UID): UIDVALIDITY is unique store-wide and never reused
// (docs/store.md), and a UID is never reused inside it, so a key never points at another message
// even after DELETE + CREATE or a rowid reused by the metadata store.
import { DatabaseSync } from "node:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ensurePrivateDbFile } from "./private-file.ts";

export type SearchField = "from" | "to" | "cc" | "bcc" | "subject" | "headers" | "body" | "text";

export interface SearchDoc {
  uidValidity: number;
  uid: number;
  from: string;
  to: string;
  cc: string;
  bcc: string;
  subject: string;
  /** Unfolded header lines "Name: decoded value", LF-separated (for HEADER name value). */
  headers: string;
  /** Decoded text of the text/* parts. */
  body: string;
  /**
   * The Date: header's calendar day as written, in the sender's zone (days since 1970-01-01), for
   * SENTBEFORE/SENTON/SENTSINCE (src/mail/date-header.ts); null if absent or unreadable.
   */
  sentDay: number | null;
}

export interface SearchIndex {
  /** Which of these UIDs have no document yet. */
  missing(uidValidity: number, uids: readonly number[]): Promise<number[]>;
  add(docs: readonly SearchDoc[]): Promise<void>;
  /** UIDs whose field contains value (case-insensitive substring). */
  match(uidValidity: number, field: SearchField, value: string): Promise<Set<number>>;
  /** The stored header lines of some messages (HEADER key refinement). */
  headers(uidValidity: number, uids: readonly number[]): Promise<Map<number, string>>;
  /** Each document's sentDay. */
  sentDays(uidValidity: number): Promise<Map<number, number | null>>;
  remove(uidValidity: number, uids: readonly number[]): Promise<void>;
  /** Every document of a mailbox (DELETE): nothing derived from it stays behind. */
  removeMailbox(uidValidity: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Version of what a document holds. Documents are derived data, so a change of what is extracted
 * drops them all and they are rebuilt lazily (the first SEARCH of each mailbox reads it again):
 *  1: sent_date as a UTC instant; address fields as written.
 *  2: sent_day, the Date: header's own calendar day; address fields without comments and CFWS.
 */
const VERSION = 2;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS docs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  uidv INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  sent_day INTEGER,
  UNIQUE (uidv, uid)
);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
  f_from, f_to, f_cc, f_bcc, f_subject, f_headers, f_body, tokenize = 'trigram'
);
`;

const COLUMNS: Record<Exclude<SearchField, "text">, string> = {
  from: "f_from",
  to: "f_to",
  cc: "f_cc",
  bcc: "f_bcc",
  subject: "f_subject",
  headers: "f_headers",
  body: "f_body",
};

/** FTS5 string literal: a phrase in double quotes, quotes doubled. */
function phrase(s: string): string {
  return '"' + s.replace(/"/g, '""') + '"';
}

export function openSearchIndex(dataDir: string, fileName = "search.sqlite"): SearchIndex {
  mkdirSync(dataDir, { recursive: true });
  ensurePrivateDbFile(join(dataDir, fileName));
  const db = new DatabaseSync(join(dataDir, fileName));
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA busy_timeout = 5000");
  const version = Number((db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version);
  if (version < VERSION) {
    db.exec("BEGIN");
    db.exec("DROP TABLE IF EXISTS fts");
    db.exec("DROP TABLE IF EXISTS docs");
    db.exec(SCHEMA);
    db.exec(`PRAGMA user_version = ${VERSION}`);
    db.exec("COMMIT");
  }
  db.exec(SCHEMA);
  const ins = db.prepare("INSERT OR IGNORE INTO docs (uidv, uid, sent_day) VALUES (?, ?, ?)");
  const insFts = db.prepare("INSERT INTO fts (rowid, f_from, f_to, f_cc, f_bcc, f_subject, f_headers, f_body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  const have = db.prepare("SELECT uid FROM docs WHERE uidv = ?");
  const haveOne = db.prepare("SELECT 1 FROM docs WHERE uidv = ? AND uid = ?");

  return {
    async missing(uidv, uids) {
      // A few UIDs (the background indexer's batch): look each up by the unique index rather
      // than reading every document key of the mailbox.
      if (uids.length <= 64) return uids.filter((u) => haveOne.get(uidv, u) === undefined);
      const present = new Set((have.all(uidv) as Array<{ uid: number }>).map((r) => r.uid));
      return uids.filter((u) => !present.has(u));
    },
    async add(docs) {
      db.exec("BEGIN");
      try {
        for (const d of docs) {
          const r = ins.run(d.uidValidity, d.uid, d.sentDay);
          if (Number(r.changes) === 0) continue; // another session indexed it first
          insFts.run(Number(r.lastInsertRowid), d.from, d.to, d.cc, d.bcc, d.subject, d.headers, d.body);
        }
        db.exec("COMMIT");
      } catch (e) {
        db.exec("ROLLBACK");
        throw e;
      }
    },
    async match(uidv, field, value) {
      const cols = field === "text" ? ["f_headers", "f_body"] : [COLUMNS[field]];
      const out = new Set<number>();
      if ([...value].length >= 3) {
        const q = `{${cols.join(" ")}} : ${phrase(value)}`;
        const rows = db
          .prepare("SELECT d.uid FROM fts JOIN docs d ON d.id = fts.rowid WHERE fts MATCH ? AND d.uidv = ?")
          .all(q, uidv) as Array<{ uid: number }>;
        for (const r of rows) out.add(r.uid);
      } else {
        // Under 3 characters: no trigram to look up; scan this mailbox's stored text only.
        const cond = cols.map((c) => `instr(lower(fts.${c}), lower(?1)) > 0`).join(" OR ");
        const rows = db
          .prepare(`SELECT d.uid FROM docs d JOIN fts ON fts.rowid = d.id WHERE d.uidv = ?2 AND (${cond})`)
          .all(value, uidv) as Array<{ uid: number }>;
        for (const r of rows) out.add(r.uid);
      }
      return out;
    },
    async headers(uidv, uids) {
      const out = new Map<number, string>();
      const st = db.prepare("SELECT fts.f_headers AS h FROM docs d JOIN fts ON fts.rowid = d.id WHERE d.uidv = ? AND d.uid = ?");
      for (const u of uids) {
        const r = st.get(uidv, u) as { h: string } | undefined;
        if (r) out.set(u, r.h);
      }
      return out;
    },
    async sentDays(uidv) {
      const rows = db.prepare("SELECT uid, sent_day FROM docs WHERE uidv = ?").all(uidv) as Array<{ uid: number; sent_day: number | null }>;
      return new Map(rows.map((r) => [r.uid, r.sent_day]));
    },
    async remove(uidv, uids) {
      if (uids.length === 0) return;
      const sel = db.prepare("SELECT id FROM docs WHERE uidv = ? AND uid = ?");
      const delFts = db.prepare("DELETE FROM fts WHERE rowid = ?");
      const delDoc = db.prepare("DELETE FROM docs WHERE id = ?");
      db.exec("BEGIN");
      try {
        for (const u of uids) {
          const r = sel.get(uidv, u) as { id: number } | undefined;
          if (!r) continue;
          delFts.run(r.id);
          delDoc.run(r.id);
        }
        db.exec("COMMIT");
      } catch (e) {
        db.exec("ROLLBACK");
        throw e;
      }
    },
    async removeMailbox(uidv) {
      db.exec("BEGIN");
      try {
        db.prepare("DELETE FROM fts WHERE rowid IN (SELECT id FROM docs WHERE uidv = ?)").run(uidv);
        db.prepare("DELETE FROM docs WHERE uidv = ?").run(uidv);
        db.exec("COMMIT");
      } catch (e) {
        db.exec("ROLLBACK");
        throw e;
      }
    },
    async close() {
      db.close();
    },
  };
}
