// What a snapshot holds, written into it as backup-manifest.json, and the check of a restored
// tree against it (verify and restore both run it): every blob's SHA-256 and size, every
// database's SHA-256, size and PRAGMA integrity_check, every other file's SHA-256.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { createInterface } from "node:readline";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";

export const MANIFEST_FILE = "backup-manifest.json";
/** The blob list, one JSON ManifestEntry a line (streamed: a large mailbox never sits in memory). */
export const BLOB_LIST_FILE = "backup-blobs.jsonl";
export const MANIFEST_FORMAT = "freehold-backup/1";

export interface ManifestEntry {
  /** Path inside the snapshot (and the data folder), with "/" separators. */
  path: string;
  size: number;
  sha256: string;
}

export interface FileEntry extends ManifestEntry {
  /** Permission bits in the data folder (restore keeps them, never wider than 0644). */
  mode: number;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  createdAt: string;
  hostname: string;
  /** Messages in mailboxes at the snapshot (meta.sqlite). */
  messages: number;
  databases: ManifestEntry[];
  files: FileEntry[];
  /** Every blob row of meta.sqlite at the snapshot (blobs/<location>/<sha256>), listed in BLOB_LIST_FILE. */
  blobs: { count: number; bytes: number; list: ManifestEntry };
}

export interface TreeProblem {
  kind: "blob" | "database" | "file" | "manifest";
  path: string;
  problem: string;
}

export interface CheckProgress {
  (done: number, total: number): void;
}

export async function sha256File(file: string): Promise<{ sha256: string; size: number }> {
  const h = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: h.digest("hex"), size };
}

export async function readManifest(root: string): Promise<Manifest> {
  const text = await readFile(path.join(root, MANIFEST_FILE), "utf8");
  const m = JSON.parse(text) as Manifest;
  if (m.format !== MANIFEST_FORMAT) throw new Error(`${MANIFEST_FILE}: unknown format ${JSON.stringify(m.format)}`);
  return m;
}

/** PRAGMA integrity_check of a database file: "ok" or the first problems SQLite reports. */
export function integrityCheck(file: string): string {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(file, { readOnly: true });
    const rows = db.prepare("PRAGMA integrity_check(5)").all() as Array<Record<string, unknown>>;
    const msgs = rows.map((r) => String(Object.values(r)[0]));
    return msgs.length === 1 && msgs[0] === "ok" ? "ok" : msgs.join("; ");
  } catch (e) {
    return (e as Error).message;
  } finally {
    db?.close();
  }
}

async function checkEntry(root: string, e: ManifestEntry, kind: TreeProblem["kind"]): Promise<TreeProblem | null> {
  const file = path.join(root, e.path);
  const st = await stat(file).catch(() => null);
  if (!st) return { kind, path: e.path, problem: "missing from the snapshot" };
  if (st.size !== e.size) return { kind, path: e.path, problem: `${st.size} bytes, the manifest says ${e.size} (truncated or damaged)` };
  const got = await sha256File(file);
  if (got.sha256 !== e.sha256) return { kind, path: e.path, problem: `SHA-256 ${got.sha256.slice(0, 16)}…, the manifest says ${e.sha256.slice(0, 16)}… (damaged)` };
  return null;
}

/**
 * Checks a restored snapshot tree against its manifest. Returns every problem found (empty: the
 * snapshot reads back whole). Blobs are checked in parallel a few at a time.
 */
export async function checkTree(root: string, manifest: Manifest, onProgress?: CheckProgress): Promise<TreeProblem[]> {
  const problems: TreeProblem[] = [];
  const total = manifest.blobs.count + manifest.databases.length + manifest.files.length;
  let done = 0;
  const tick = () => onProgress?.(++done, total);
  for (const d of manifest.databases) {
    const p = await checkEntry(root, d, "database");
    // A damaged database file is also opened: SQLite's own words say what is wrong inside.
    if (p) {
      const ic = await stat(path.join(root, d.path)).then(() => integrityCheck(path.join(root, d.path)), () => null);
      if (ic !== null && ic !== "ok") p.problem += `; integrity_check: ${ic}`;
      problems.push(p);
    } else {
      const ic = integrityCheck(path.join(root, d.path));
      if (ic !== "ok") problems.push({ kind: "database", path: d.path, problem: `integrity_check: ${ic}` });
    }
    tick();
  }
  for (const f of manifest.files) {
    const p = await checkEntry(root, f, "file");
    if (p) problems.push(p);
    tick();
  }
  const list = await checkEntry(root, manifest.blobs.list, "manifest");
  if (list) {
    problems.push(list);
    return problems;
  }
  // Four reads at a time: a disk or a page cache keeps several in flight.
  let batch: ManifestEntry[] = [];
  const flush = async () => {
    for (const p of await Promise.all(batch.map((b) => checkEntry(root, b, "blob")))) if (p) problems.push(p);
    for (let i = 0; i < batch.length; i++) tick();
    batch = [];
  };
  const lines = createInterface({ input: createReadStream(path.join(root, manifest.blobs.list.path)), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line === "") continue;
    batch.push(JSON.parse(line) as ManifestEntry);
    if (batch.length === 4) await flush();
  }
  await flush();
  return problems;
}

export function describeProblems(problems: TreeProblem[], max = 20): string {
  const lines = problems.slice(0, max).map((p) => `  ${p.kind} ${p.path}: ${p.problem}`);
  if (problems.length > max) lines.push(`  … and ${problems.length - max} more`);
  return lines.join("\n");
}
