// A consistent picture of a live data folder, staged for restic in <data>/.backup-staging/:
//   - every SQLite database (*.sqlite, wherever it sits outside blobs/) copied with VACUUM INTO,
//     one read transaction each, so `serve` keeps delivering while it runs;
//   - every blob named by meta.sqlite's copy, hard-linked (blob files are immutable and
//     content-addressed, so a link is the file as it was; the collector may unlink the original
//     afterwards without touching ours, and restic sees the same inode and mtime as last time
//     and skips re-reading it: only new blobs are read and sent);
//   - the other files of the folder (freehold.yaml, tls/, secrets/, relays.yaml, …) copied;
//   - backup-manifest.json: what all of that is, with SHA-256 and sizes.
// Not staged: logs, SQLite's -wal/-shm files (the copies are complete without them), the serve
// lock, temp files, blobs/tmp. Meta is copied first: a blob row in the copy has its file on disk
// (delivery renames and fsyncs the file before it commits the row), and the collector unlinks a
// file only after its row's delete committed, which the copy does not see; if one is gone
// anyway (a row deleted between the copy and the link) the whole picture is taken again.
import { chmod, copyFile, link, lstat, mkdir, open, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { BLOB_LIST_FILE, MANIFEST_FILE, MANIFEST_FORMAT, sha256File } from "./manifest.ts";
import type { FileEntry, Manifest, ManifestEntry } from "./manifest.ts";

export const STAGING_DIR = ".backup-staging";
export const META_DB = "meta.sqlite";
/** verify's temporary copies inside the data folder (never staged themselves). */
export const VERIFY_PREFIX = ".backup-verify-";

export interface StageOptions {
  dataDir: string;
  hostname: string;
  /** The log file (relative to the data folder, "/" separators): it and its rotations are left out. */
  logFile?: string;
  now: () => number;
  onProgress?: (done: number, total: number) => void;
}

export interface Staged {
  dir: string;
  manifest: Manifest;
  /** Blob and database bytes. */
  bytes: number;
}

const SKIP_NAME = /(-wal|-shm|-journal)$|\.tmp-\d+$|^serve\.lock$|^\.backup-verify-/;

/** Files of the data folder other than blobs: databases and everything else. */
async function walk(dataDir: string, skip: (rel: string) => boolean): Promise<{ dbs: string[]; files: string[] }> {
  const dbs: string[] = [];
  const files: string[] = [];
  const visit = async (rel: string) => {
    const entries = await readdir(path.join(dataDir, rel), { withFileTypes: true });
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (skip(r) || SKIP_NAME.test(e.name)) continue;
      if (e.isDirectory()) await visit(r);
      else if (e.isFile()) (e.name.endsWith(".sqlite") ? dbs : files).push(r);
      // Sockets, links and the like are not data.
    }
  };
  await visit("");
  return { dbs: dbs.sort((a, b) => (a === META_DB ? -1 : b === META_DB ? 1 : a.localeCompare(b))), files: files.sort() };
}

function vacuumInto(src: string, dest: string): void {
  const db = new DatabaseSync(src);
  try {
    db.exec("PRAGMA busy_timeout = 30000");
    // SQLite "VACUUM INTO": a transactionally consistent copy, taken in one read transaction.
    db.prepare("VACUUM INTO ?").run(dest);
  } finally {
    db.close();
  }
}

async function linkOrCopy(src: string, dest: string): Promise<boolean> {
  try {
    await link(src, dest);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return false;
    if (code === "EEXIST") return true;
    // Another file system or no hard links: a copy does the same job, read in full each time.
    await copyFile(src, dest);
    return true;
  }
}

export async function stageSnapshot(opts: StageOptions, attempt = 1): Promise<Staged> {
  const { dataDir } = opts;
  const dir = path.join(dataDir, STAGING_DIR);
  // A leftover from a crashed run holds nothing we need.
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { mode: 0o700 });
  const log = opts.logFile;
  const rotated = log ? new RegExp(`^${log.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(\\.\\d+)?$`) : null;
  const { dbs, files } = await walk(dataDir, (rel) => rel === STAGING_DIR || rel === "blobs" || (rotated?.test(rel) ?? false));
  if (!dbs.includes(META_DB)) throw new Error(`${dataDir} has no ${META_DB}: not a Freehold data folder`);

  const databases: ManifestEntry[] = [];
  let bytes = 0;
  for (const rel of dbs) {
    const dest = path.join(dir, rel);
    await mkdir(path.dirname(dest), { recursive: true, mode: 0o700 });
    vacuumInto(path.join(dataDir, rel), dest);
    await chmod(dest, 0o600);
    const h = await sha256File(dest);
    databases.push({ path: rel, ...h });
    bytes += h.size;
  }

  // The blob rows are read one at a time and listed to a file as they are linked: memory stays
  // flat whatever the number of messages.
  const copy = new DatabaseSync(path.join(dir, META_DB), { readOnly: true });
  const listFile = await open(path.join(dir, BLOB_LIST_FILE), "w", 0o600);
  let messages: number;
  let count = 0;
  let blobBytes = 0;
  let vanished: string | null = null;
  try {
    messages = Number((copy.prepare("SELECT COUNT(*) AS n FROM messages").get() as { n: number }).n);
    const total = Number((copy.prepare("SELECT COUNT(*) AS n FROM blobs").get() as { n: number }).n);
    const made = new Set<string>();
    let buf = "";
    for (const row of copy.prepare("SELECT sha256, size, location FROM blobs ORDER BY location, sha256").iterate()) {
      const r = row as { sha256: string; size: number; location: string };
      const rel = `blobs/${r.location}/${r.sha256}`;
      const bucket = path.join(dir, "blobs", r.location);
      if (!made.has(bucket)) {
        await mkdir(bucket, { recursive: true, mode: 0o700 });
        made.add(bucket);
      }
      if (!(await linkOrCopy(path.join(dataDir, rel), path.join(dir, rel)))) {
        vanished = rel;
        break;
      }
      // Content-addressed: the name is the SHA-256 (verify re-reads the restored copy).
      buf += JSON.stringify({ path: rel, size: Number(r.size), sha256: r.sha256 }) + "\n";
      if (buf.length >= 65536) {
        await listFile.write(buf);
        buf = "";
      }
      count++;
      blobBytes += Number(r.size);
      opts.onProgress?.(count, total);
    }
    if (buf) await listFile.write(buf);
  } finally {
    copy.close();
    await listFile.close();
  }
  if (vanished) {
    // Collected between the copy and the link: take the picture again (rarely more than once).
    if (attempt < 3) return stageSnapshot(opts, attempt + 1);
    throw new Error(`blob ${vanished} vanished while the backup was staged (three times); try again`);
  }
  bytes += blobBytes;
  const list = { path: BLOB_LIST_FILE, ...(await sha256File(path.join(dir, BLOB_LIST_FILE))) };

  const fileEntries: FileEntry[] = [];
  for (const rel of files) {
    const src = path.join(dataDir, rel);
    const dest = path.join(dir, rel);
    await mkdir(path.dirname(dest), { recursive: true, mode: 0o700 });
    await copyFile(src, dest);
    const st = await lstat(src);
    const h = await sha256File(dest);
    fileEntries.push({ path: rel, ...h, mode: st.mode & 0o777 });
  }

  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    createdAt: new Date(opts.now()).toISOString(),
    hostname: opts.hostname,
    messages,
    databases,
    files: fileEntries,
    blobs: { count, bytes: blobBytes, list },
  };
  await writeFile(path.join(dir, MANIFEST_FILE), JSON.stringify(manifest), { mode: 0o600 });
  return { dir, manifest, bytes };
}

export async function removeStaging(dataDir: string): Promise<void> {
  await rm(path.join(dataDir, STAGING_DIR), { recursive: true, force: true });
}
