// Backups of a data folder with restic (docs/backup.md): init, create (stage + restic backup +
// retention), list, verify (restore into a temp folder and check against the manifest) and
// restore onto a new data folder. The CLI and the scheduler in `serve` both call these.
import { createHash, randomBytes } from "node:crypto";
import { chmod, mkdir, readdir, realpath, rename, rm, stat } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import type { Config } from "../config/schema.ts";
import type { BackupConfig } from "./config-schema.ts";
import { writeFileAtomic } from "../tls/atomic-file.ts";
import { repositoryExists, runRestic } from "./restic.ts";
import type { ResticSnapshot, ResticTarget } from "./restic.ts";
import { removeStaging, stageSnapshot, STAGING_DIR, VERIFY_PREFIX } from "./stage.ts";
import { BLOB_LIST_FILE, checkTree, describeProblems, MANIFEST_FILE, readManifest } from "./manifest.ts";
import type { Manifest, TreeProblem } from "./manifest.ts";

/** Every Freehold snapshot carries this tag; list, verify and retention look at these only. */
export const TAG = "freehold";

export class BackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BackupError";
  }
}

export interface Progress {
  /** What is being done: "stage", "upload", "restore", "check". */
  phase: string;
  done: number;
  total: number;
  unit: "files" | "bytes";
}
export type OnProgress = (p: Progress) => void;

export function targetOf(config: Config, over: { repository?: string; passwordFile?: string; restic?: string } = {}): ResticTarget {
  const b = config.backup;
  const repository = over.repository ?? b.repository;
  if (!repository) throw new BackupError("no backup repository: set backup.repository in freehold.yaml (docs/backup.md) or pass --repository");
  return {
    program: over.restic ?? b.restic,
    repository,
    passwordFile: path.resolve(config.dataDir, over.passwordFile ?? b.passwordFile),
  };
}

async function passwordFileState(file: string): Promise<"absent" | "ok"> {
  const st = await stat(file).catch(() => null);
  if (!st) return "absent";
  if ((st.mode & 0o077) !== 0) throw new BackupError(`${file} is readable by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it`);
  if (st.size === 0) throw new BackupError(`${file} is empty`);
  return "ok";
}

/** Creates the repository if absent, and the password file first if that is absent too. */
export async function initRepository(t: ResticTarget): Promise<{ created: boolean; passwordCreated: boolean }> {
  let passwordCreated = false;
  if ((await passwordFileState(t.passwordFile)) === "absent") {
    // 32 random bytes: restic derives the key with scrypt, so this is far beyond guessing.
    await writeFileAtomic(t.passwordFile, randomBytes(32).toString("base64url") + "\n", 0o600);
    passwordCreated = true;
  }
  if (await repositoryExists(t)) return { created: false, passwordCreated };
  await runRestic(t, ["init"]);
  return { created: true, passwordCreated };
}

export interface CreateResult {
  snapshotId: string;
  messages: number;
  blobs: number;
  /** Blob and database bytes in the snapshot. */
  bytes: number;
  /** Bytes restic added to the repository (after de-duplication and compression). */
  added: number;
  filesNew: number;
  filesUnmodified: number;
  durationMs: number;
}

export interface CreateOptions {
  dataDir: string;
  config: Config;
  target: ResticTarget;
  now?: () => number;
  onProgress?: OnProgress;
}

/**
 * One backup at a time per data folder (the scheduler in serve and a cron job could overlap, and
 * both stage into the same folder): a listening socket in Linux's abstract namespace, named
 * after the folder, as src/server/data-lock.ts does for serve. The kernel drops it when the
 * process dies, so a crash leaves no stale lock. Elsewhere there is no lock.
 */
async function backupLock(dataDir: string): Promise<() => Promise<void>> {
  if (process.platform !== "linux") return async () => undefined;
  const real = await realpath(dataDir);
  const name = `\0freehold-backup-${createHash("sha256").update(real).digest("hex").slice(0, 40)}`;
  const srv = net.createServer((c) => c.destroy());
  await new Promise<void>((resolve, reject) => {
    srv.once("error", (e: NodeJS.ErrnoException) => reject(e.code === "EADDRINUSE" ? new BackupError(`another backup of ${dataDir} is running; try again when it has finished`) : e));
    srv.listen(name, () => resolve());
  });
  return () => new Promise<void>((r) => srv.close(() => r()));
}

export async function createBackup(o: CreateOptions): Promise<CreateResult> {
  const release = await backupLock(o.dataDir);
  try {
    return await createLocked(o);
  } finally {
    await release();
  }
}

async function createLocked(o: CreateOptions): Promise<CreateResult> {
  const now = o.now ?? Date.now;
  const started = now();
  await passwordFileState(o.target.passwordFile).then((s) => {
    if (s === "absent") throw new BackupError(`no password file ${o.target.passwordFile}: run \`freehold backup init\` first`);
  });
  // The log is not data (and would change under restic's feet); inside the folder it is left out.
  const logRel = o.config.log.file ? path.relative(o.config.dataDir, path.resolve(o.config.dataDir, o.config.log.file)).split(path.sep).join("/") : undefined;
  const staged = await stageSnapshot({
    dataDir: o.dataDir,
    hostname: o.config.hostname,
    logFile: logRel && !logRel.startsWith("../") ? logRel : undefined,
    now,
    onProgress: (done, total) => o.onProgress?.({ phase: "stage", done, total, unit: "files" }),
  });
  try {
    let summary: Record<string, unknown> | null = null;
    await runRestic(
      o.target,
      ["backup", "--json", ".", "--host", o.config.hostname, "--tag", TAG, "--tag", `messages=${staged.manifest.messages}`, "--tag", `bytes=${staged.bytes}`, "--ignore-ctime"],
      {
        cwd: staged.dir,
        onLine: (line) => {
          let m: Record<string, unknown>;
          try {
            m = JSON.parse(line) as Record<string, unknown>;
          } catch {
            return;
          }
          if (m.message_type === "status") o.onProgress?.({ phase: "upload", done: Number(m.bytes_done ?? 0), total: Number(m.total_bytes ?? 0), unit: "bytes" });
          else if (m.message_type === "summary") summary = m;
        },
      },
    );
    const s = summary as Record<string, unknown> | null;
    if (!s || typeof s.snapshot_id !== "string") throw new BackupError("restic backup printed no snapshot id");
    return {
      snapshotId: s.snapshot_id,
      messages: staged.manifest.messages,
      blobs: staged.manifest.blobs.count,
      bytes: staged.bytes,
      added: Number(s.data_added ?? 0),
      filesNew: Number(s.files_new ?? 0),
      filesUnmodified: Number(s.files_unmodified ?? 0),
      durationMs: now() - started,
    };
  } finally {
    await removeStaging(o.dataDir);
  }
}

/** restic forget --prune with the keep policy; returns restic's output. */
export async function applyRetention(t: ResticTarget, keep: BackupConfig["keep"]): Promise<string> {
  if (keep.daily === 0 && keep.weekly === 0 && keep.monthly === 0) return "";
  // Grouped by host only: the messages=/bytes= tags differ from one snapshot to the next.
  const args = ["forget", "--prune", "--tag", TAG, "--group-by", "host"];
  if (keep.daily) args.push("--keep-daily", String(keep.daily));
  if (keep.weekly) args.push("--keep-weekly", String(keep.weekly));
  if (keep.monthly) args.push("--keep-monthly", String(keep.monthly));
  return (await runRestic(t, args)).stdout;
}

export interface SnapshotInfo {
  id: string;
  shortId: string;
  time: string;
  host: string;
  messages: number | null;
  bytes: number | null;
}

const tagNum = (tags: string[] | undefined, key: string): number | null => {
  const t = tags?.find((x) => x.startsWith(key + "="));
  return t ? Number(t.slice(key.length + 1)) : null;
};

/** Freehold snapshots, oldest first. */
export async function listBackups(t: ResticTarget): Promise<SnapshotInfo[]> {
  const r = await runRestic(t, ["snapshots", "--json", "--tag", TAG, "--no-lock"]);
  const snaps = JSON.parse(r.stdout || "[]") as ResticSnapshot[];
  return snaps.map((s) => ({ id: s.id, shortId: s.short_id, time: s.time, host: s.hostname, messages: tagNum(s.tags, "messages"), bytes: tagNum(s.tags, "bytes") }));
}

/** restic restore of one snapshot into `target` (a new folder); per-file read errors are left for checkTree to name. */
async function resticRestore(t: ResticTarget, snapshot: string, target: string): Promise<{ stderr: string; id: string }> {
  const r = await runRestic(t, ["restore", snapshot, "--tag", TAG, "--target", target], { okCodes: [1] });
  if (r.code === 1 && !/There were \d+ errors/.test(r.stderr)) throw new BackupError(`restic restore ${snapshot} failed: ${r.stderr.trim().split("\n").slice(-3).join("; ")}`);
  // "restoring <Snapshot 6a0660fc of [...] ...> to ...": the id "latest" stood for.
  const id = /<Snapshot ([0-9a-f]{8,64})/.exec(r.stdout)?.[1] ?? snapshot;
  return { stderr: r.stderr, id };
}

export interface VerifyResult {
  snapshot: string;
  manifest: Manifest | null;
  problems: TreeProblem[];
  /** restic's complaints while reading the snapshot (damaged pack files). */
  resticErrors: string[];
}

async function restoreAndCheck(t: ResticTarget, snapshot: string, into: string, onProgress?: OnProgress): Promise<VerifyResult> {
  onProgress?.({ phase: "restore", done: 0, total: 1, unit: "files" });
  const { stderr, id } = await resticRestore(t, snapshot, into);
  snapshot = id;
  const resticErrors = stderr.split("\n").filter((l) => /error|ciphertext|fatal/i.test(l) && !/^Fatal: There were \d+ errors/.test(l));
  let manifest: Manifest;
  try {
    manifest = await readManifest(into);
  } catch (e) {
    return { snapshot, manifest: null, problems: [{ kind: "manifest", path: MANIFEST_FILE, problem: `unreadable: ${(e as Error).message}` }], resticErrors };
  }
  const problems = await checkTree(into, manifest, (done, total) => onProgress?.({ phase: "check", done, total, unit: "files" }));
  return { snapshot, manifest, problems, resticErrors };
}

/** Reads a whole snapshot back into a temp folder and checks every blob and database. */
export async function verifyBackup(t: ResticTarget, o: { snapshot?: string; tmpParent: string; onProgress?: OnProgress }): Promise<VerifyResult> {
  const snapshot = o.snapshot ?? "latest";
  const tmp = path.join(o.tmpParent, `${VERIFY_PREFIX}${randomBytes(6).toString("hex")}`);
  await mkdir(tmp, { recursive: true, mode: 0o700 });
  try {
    return await restoreAndCheck(t, snapshot, tmp, o.onProgress);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

export function verifyReport(v: VerifyResult): string {
  const lines = [`Snapshot ${v.snapshot} FAILED verification: ${v.problems.length} problem${v.problems.length === 1 ? "" : "s"}`, describeProblems(v.problems)];
  if (v.resticErrors.length) lines.push("restic reported:", ...v.resticErrors.slice(0, 5).map((l) => `  ${l}`));
  return lines.join("\n");
}

/** Modes a restored folder gets: folders 0700, secrets and databases 0600, nothing wider than 0644. */
async function fixModes(dir: string, manifest: Manifest): Promise<void> {
  const modes = new Map(manifest.files.map((f) => [f.path, f.mode]));
  const visit = async (rel: string) => {
    await chmod(path.join(dir, rel), 0o700);
    for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await visit(r);
      else if (e.isFile()) {
        const secret = r.startsWith("secrets/") || /key|password|\.sqlite$|^freehold\.yaml$|^blobs\//.test(r);
        const m = secret ? 0o600 : (modes.get(r) ?? 0o600) & 0o644;
        await chmod(path.join(dir, r), m | 0o600);
      }
    }
  };
  await visit("");
}

export interface RestoreResult {
  snapshot: string;
  manifest: Manifest;
  dataDir: string;
}

/**
 * Rebuilds a data folder from a snapshot. NEWDIR must be absent or empty. The snapshot is
 * restored beside it, checked as verify does (a damaged snapshot restores nothing), then moved
 * into place with safe modes.
 */
export async function restoreBackup(t: ResticTarget, o: { snapshot: string; dataDir: string; onProgress?: OnProgress }): Promise<RestoreResult> {
  const dataDir = path.resolve(o.dataDir);
  const existing = await readdir(dataDir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return null;
    throw e;
  });
  if (existing && existing.length > 0) throw new BackupError(`${dataDir} is not empty: restore needs a new or empty folder (it never overwrites a data folder)`);
  const parent = path.dirname(dataDir);
  await mkdir(parent, { recursive: true });
  const tmp = path.join(parent, `.freehold-restore-${randomBytes(6).toString("hex")}`);
  await mkdir(tmp, { mode: 0o700 });
  try {
    const v = await restoreAndCheck(t, o.snapshot, tmp, o.onProgress);
    if (!v.manifest || v.problems.length) throw new BackupError(verifyReport(v) + "\nNothing was restored.");
    await rm(path.join(tmp, MANIFEST_FILE));
    await rm(path.join(tmp, BLOB_LIST_FILE));
    await rm(path.join(tmp, STAGING_DIR), { recursive: true, force: true });
    await fixModes(tmp, v.manifest);
    if (existing) {
      // An empty folder the operator made (perhaps a mount point): move the contents in.
      for (const name of await readdir(tmp)) await rename(path.join(tmp, name), path.join(dataDir, name));
      await chmod(dataDir, 0o700);
    } else {
      await rename(tmp, dataDir);
    }
    return { snapshot: o.snapshot, manifest: v.manifest, dataDir };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
