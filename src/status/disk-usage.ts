// Disk use of a data folder by category (issue 19 §3, `freehold status`): message files (the
// blob store), each SQLite database with its -wal and -shm, log files, backup staging, and the
// rest. Walks the folder one directory at a time (constant memory but for the set of
// hard-linked inodes, so a blob that backup staging links is counted once, under messages).
// Bytes are allocated blocks (what the disk gives up), files are counted too.
import fs from "node:fs/promises";
import path from "node:path";

export interface UsageEntry {
  /** "messages", "database <name>", "logs", "backup staging", "other". */
  category: string;
  bytes: number;
  files: number;
}

/** Which category a path (relative to the data folder, "/"-separated) belongs to. */
export function categoryOf(rel: string, logDir: string | null): string {
  const first = rel.split("/")[0];
  if (first === "blobs") return "messages";
  if (first === ".backup-staging") return "backup staging";
  if (logDir !== null && (rel === logDir || rel.startsWith(`${logDir}/`))) return "logs";
  const db = /^([^/]+\.sqlite)(-wal|-shm|-journal)?$/.exec(rel);
  if (db) return `database ${db[1]}`;
  return "other";
}

/**
 * `logFile`: config log.file relative to the data folder ("" = none); its directory is "logs"
 * when it is inside the folder and not the folder itself.
 */
export async function diskUsage(dataDir: string, logFile: string): Promise<UsageEntry[]> {
  const logRel = logFile ? path.relative(dataDir, path.resolve(dataDir, logFile)) : null;
  const logDir = logRel && !logRel.startsWith("..") ? (path.dirname(logRel) === "." ? null : path.dirname(logRel).split(path.sep).join("/")) : null;
  const logBase = logRel && !logRel.startsWith("..") && path.dirname(logRel) === "." ? path.basename(logRel) : null;
  const totals = new Map<string, UsageEntry>();
  const seen = new Set<string>();
  const add = (category: string, bytes: number) => {
    const e = totals.get(category) ?? { category, bytes: 0, files: 0 };
    e.bytes += bytes;
    e.files++;
    totals.set(category, e);
  };
  // Messages first, so a hard link elsewhere (backup staging) is counted under messages.
  const order = (names: string[]) => names.sort((a, b) => (a === "blobs" ? -1 : b === "blobs" ? 1 : a.localeCompare(b)));
  const stack: string[] = [""];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    let entries: import("node:fs").Dirent[];
    try {
      entries = await fs.readdir(path.join(dataDir, rel), { withFileTypes: true });
    } catch {
      continue; // removed meanwhile (a staging folder at the end of a backup)
    }
    const byName = new Map(entries.map((e) => [e.name, e]));
    const dirs: string[] = [];
    for (const name of order([...byName.keys()])) {
      const e = byName.get(name)!;
      const r = rel ? `${rel}/${name}` : name;
      if (e.isDirectory()) {
        dirs.push(r);
        continue;
      }
      let st: import("node:fs").Stats;
      try {
        st = await fs.lstat(path.join(dataDir, r));
      } catch {
        continue;
      }
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
      }
      const bytes = st.blocks * 512;
      const cat = logBase !== null && (r === logBase || r.startsWith(`${logBase}.`)) ? "logs" : categoryOf(r, logDir);
      add(cat, bytes);
    }
    // Depth-first, blobs last on the stack top so it is walked first.
    for (const d of dirs.reverse()) stack.push(d);
  }
  const rank = (c: string) => (c === "messages" ? 0 : c.startsWith("database") ? 1 : c === "logs" ? 2 : c === "backup staging" ? 3 : 4);
  return [...totals.values()].sort((a, b) => rank(a.category) - rank(b.category) || a.category.localeCompare(b.category));
}
