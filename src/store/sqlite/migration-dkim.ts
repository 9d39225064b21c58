// Migration: DKIM keys (docs/submission.md "DKIM keys") and the submission parameters of queue
// entries the outbound side needs (RFC 6152 BODY=8BITMIME, RFC 6531 SMTPUTF8).
//
// Private keys live in the metadata database, which is already the server's secret store
// (password hashes) and kept 0600 in a 0700 data folder: one place to back up, and a rotation
// is one transaction instead of a file rename plus a row update.
import type { Migration } from "./migrations.ts";

export const DKIM_MIGRATION: Migration = {
  version: 2,
  name: "dkim keys; queue BODY and SMTPUTF8",
  sql: `
CREATE TABLE dkim_keys (
  id INTEGER PRIMARY KEY,
  domain TEXT NOT NULL,
  selector TEXT NOT NULL,
  algorithm TEXT NOT NULL CHECK (algorithm IN ('rsa', 'ed25519')),
  private_key_pem TEXT NOT NULL, -- '' once retired
  public_key TEXT NOT NULL,      -- the p= value
  state TEXT NOT NULL CHECK (state IN ('new', 'published', 'active', 'retiring', 'retired')),
  created_at INTEGER NOT NULL,
  published_at INTEGER,
  activated_at INTEGER,
  retiring_at INTEGER,
  retired_at INTEGER,
  UNIQUE (domain, selector)
);
CREATE INDEX dkim_keys_domain ON dkim_keys (domain, state);
-- RFC 6152 / RFC 3030 BODY= value as the client declared it (NULL: not given, 7BIT assumed) and
-- RFC 6531 SMTPUTF8, so the delivery side can convert or bounce with 5.6.7 for a next hop
-- without 8BITMIME or SMTPUTF8.
ALTER TABLE queue_messages ADD COLUMN body TEXT;
ALTER TABLE queue_messages ADD COLUMN smtputf8 INTEGER NOT NULL DEFAULT 0;
`,
};
