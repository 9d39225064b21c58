// The restic program, run as a child process. restic does encryption, de-duplication and the
// remote back ends (docs/dependencies.md); this file only runs it.
//
// Secrets: the repository password reaches restic as RESTIC_PASSWORD_FILE (a path), the
// repository location as RESTIC_REPOSITORY (an S3 or REST URL may carry credentials): neither
// is ever on a command line (visible to every local user in the process list) or in a log.
import { spawn } from "node:child_process";

export interface ResticTarget {
  /** The restic program: a name on PATH or a path. */
  program: string;
  repository: string;
  /** Absolute path of the file holding the repository password. */
  passwordFile: string;
  /** Extra environment (tests: RESTIC_CACHE_DIR); the parent's environment is inherited (AWS_*, B2_*). */
  env?: NodeJS.ProcessEnv;
}

export class ResticError extends Error {
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(message: string, exitCode: number | null, stderr: string) {
    super(message);
    this.name = "ResticError";
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

export interface RunOptions {
  cwd?: string;
  /** Each stdout line as it comes (restic --json prints one JSON object per line). */
  onLine?: (line: string) => void;
  /** Exit codes that are not failures (restic restore: 1 after per-file errors we check ourselves). */
  okCodes?: number[];
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runRestic(t: ResticTarget, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...t.env, RESTIC_REPOSITORY: t.repository, RESTIC_PASSWORD_FILE: t.passwordFile };
    // A password in the environment would win over the file; never pass one on.
    delete env.RESTIC_PASSWORD;
    delete env.RESTIC_PASSWORD_COMMAND;
    delete env.RESTIC_REPOSITORY_FILE;
    const child = spawn(t.program, args, { cwd: opts.cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let partial = "";
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (d: string) => {
      stdout += d;
      if (!opts.onLine) return;
      partial += d;
      let nl: number;
      while ((nl = partial.indexOf("\n")) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        if (line) opts.onLine(line);
      }
    });
    child.stderr.on("data", (d: string) => {
      // Keep the tail only: a restore of a damaged snapshot may print an error per file.
      stderr = (stderr + d).slice(-64 * 1024);
    });
    child.on("error", (err: NodeJS.ErrnoException) => {
      reject(new ResticError(err.code === "ENOENT" ? `restic not found (${t.program}): install it (apt-get install restic) or set backup.restic` : `cannot run restic: ${err.message}`, null, ""));
    });
    child.on("close", (code) => {
      if (partial && opts.onLine) opts.onLine(partial);
      const c = code ?? -1;
      if (c === 0 || opts.okCodes?.includes(c)) return resolve({ code: c, stdout, stderr });
      reject(new ResticError(`restic ${args[0]} failed (exit ${c}): ${lastLines(stderr)}`, c, stderr));
    });
  });
}

function lastLines(s: string, n = 4): string {
  const lines = s.trim().split("\n").filter((l) => l.trim() !== "");
  return lines.slice(-n).join("; ") || "no message";
}

/** A snapshot as `restic snapshots --json` lists it. */
export interface ResticSnapshot {
  id: string;
  short_id: string;
  time: string;
  paths: string[];
  hostname: string;
  tags?: string[];
}

/** True when the repository exists and the password opens it. */
export async function repositoryExists(t: ResticTarget): Promise<boolean> {
  try {
    await runRestic(t, ["cat", "config", "--no-lock"]);
    return true;
  } catch (e) {
    if (e instanceof ResticError && /does not exist|unable to open config file|Is there a repository at the following location/i.test(e.stderr)) return false;
    throw e;
  }
}
