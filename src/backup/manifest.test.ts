import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { BLOB_LIST_FILE, checkTree, MANIFEST_FORMAT, sha256File } from "./manifest.ts";
import type { Manifest } from "./manifest.ts";

const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

async function tree() {
  const root = await mkdtemp(path.join(os.tmpdir(), "freehold-manifest-"));
  await mkdir(path.join(root, "blobs", "2026120711"), { recursive: true });
  const blobs = ["one\r\n", "two\r\n", "three\r\n"].map((t) => ({ path: `blobs/2026120711/${sha(t)}`, size: t.length, sha256: sha(t), text: t }));
  for (const b of blobs) await writeFile(path.join(root, b.path), b.text);
  const db = new DatabaseSync(path.join(root, "meta.sqlite"));
  db.exec("PRAGMA synchronous = OFF; CREATE TABLE t (x TEXT); BEGIN");
  for (let i = 0; i < 2000; i++) db.prepare("INSERT INTO t VALUES (?)").run(`row ${i}`.repeat(10));
  db.exec("COMMIT");
  db.close();
  await writeFile(path.join(root, "freehold.yaml"), "hostname: mx.example.test\n");
  await writeFile(path.join(root, BLOB_LIST_FILE), blobs.map(({ text: _t, ...b }) => JSON.stringify(b) + "\n").join(""));
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    createdAt: new Date(0).toISOString(),
    hostname: "mx.example.test",
    messages: 3,
    databases: [{ path: "meta.sqlite", ...(await sha256File(path.join(root, "meta.sqlite"))) }],
    files: [{ path: "freehold.yaml", ...(await sha256File(path.join(root, "freehold.yaml"))), mode: 0o600 }],
    blobs: { count: blobs.length, bytes: blobs.reduce((n, b) => n + b.size, 0), list: { path: BLOB_LIST_FILE, ...(await sha256File(path.join(root, BLOB_LIST_FILE))) } },
  };
  return { root, manifest, blobs };
}

test("a whole tree passes; progress counts every entry", async () => {
  const { root, manifest } = await tree();
  try {
    const seen: number[] = [];
    assert.deepEqual(await checkTree(root, manifest, (d, t) => seen.push(d / t)), []);
    assert.equal(seen.at(-1), 1);
    assert.equal(seen.length, 5);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test("a missing, a truncated and a changed blob, a truncated database and a changed file are each named", async () => {
  const { root, manifest, blobs } = await tree();
  try {
    await rm(path.join(root, blobs[0]!.path));
    await truncate(path.join(root, blobs[1]!.path), 2);
    await writeFile(path.join(root, blobs[2]!.path), "thref\r\n");
    await truncate(path.join(root, "meta.sqlite"), 8192);
    await writeFile(path.join(root, "freehold.yaml"), "hostname: mx.example.tesT\n");
    const problems = await checkTree(root, manifest);
    const by = new Map(problems.map((p) => [p.path, p]));
    assert.equal(problems.length, 5);
    assert.match(by.get(blobs[0]!.path)!.problem, /missing/);
    assert.match(by.get(blobs[1]!.path)!.problem, /^2 bytes, the manifest says 5 \(truncated/);
    assert.match(by.get(blobs[2]!.path)!.problem, /SHA-256 .* \(damaged\)/);
    assert.equal(by.get("meta.sqlite")!.kind, "database");
    assert.match(by.get("meta.sqlite")!.problem, /truncated or damaged\); integrity_check: /);
    assert.equal(by.get("freehold.yaml")!.kind, "file");
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test("a damaged blob list is named and stops the blob checks", async () => {
  const { root, manifest } = await tree();
  try {
    await writeFile(path.join(root, BLOB_LIST_FILE), "{}\n");
    const problems = await checkTree(root, manifest);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.kind, "manifest");
    assert.equal(problems[0]!.path, BLOB_LIST_FILE);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
