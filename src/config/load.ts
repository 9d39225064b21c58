// Loading the configuration from `<data>/freehold.yaml`. Every problem is reported as
// `<file>: <key path>: <what is wrong>` (or `<file>:<line>:<col>: ...` for YAML syntax), all of
// them at once, so an operator fixes the file in one go.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { ConfigFileSchema, DEFAULT_TLS_BY_ROLE } from "./schema.ts";
import type { Config } from "./schema.ts";

export const CONFIG_FILE = "freehold.yaml";

/** A configuration that cannot be used; `problems` are complete lines for the operator. */
export class ConfigError extends Error {
  readonly file: string;
  readonly problems: string[];
  constructor(file: string, problems: string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
    this.file = file;
    this.problems = problems;
  }
}

export function configPath(dataDir: string): string {
  return path.join(dataDir, CONFIG_FILE);
}

/** Read and validate `<dataDir>/freehold.yaml`. */
export async function loadConfig(dataDir: string): Promise<Config> {
  const file = configPath(dataDir);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new ConfigError(file, [`${file}: not found (run \`freehold init\` first)`]);
    throw new ConfigError(file, [`${file}: cannot read: ${(err as Error).message}`]);
  }
  return parseConfigText(text, { file, dataDir });
}

export interface ParseOptions {
  /** Shown in messages. */
  file: string;
  /** The folder the file sits in: the default dataDir and the base of relative paths. */
  dataDir: string;
}

/** Parse YAML text into a validated Config. */
export function parseConfigText(text: string, opts: ParseOptions): Config {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      opts.file,
      doc.errors.map((e) => {
        const at = e.linePos?.[0];
        const where = at ? `${opts.file}:${at.line}:${at.col}` : opts.file;
        // prettyErrors adds " at line L, column C:" and a code excerpt; we put the position first.
        return `${where}: ${firstLine(e.message).replace(/ at line \d+, column \d+:?$/, "")}`;
      }),
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS() ?? {};
  } catch (e) {
    // yaml throws a ReferenceError for an alias whose anchor is not set ("<<: *a"); found by the
    // config fuzzer (src/fuzz/registry.ts): report it as a config error, not a crash.
    throw new ConfigError(opts.file, [`${opts.file}: ${firstLine(e instanceof Error ? e.message : String(e))}`]);
  }
  return configFromObject(raw, opts);
}

/** Validate an already-parsed object (YAML, JSON, or built in code) into a Config. */
export function configFromObject(raw: unknown, opts: ParseOptions): Config {
  const r = ConfigFileSchema.safeParse(raw, { reportInput: true });
  if (!r.success) {
    throw new ConfigError(opts.file, r.error.issues.flatMap((i) => describeIssue(opts.file, i)));
  }
  const c = r.data;
  const dataDir = path.resolve(opts.dataDir, c.dataDir ?? ".");
  return {
    ...c,
    dataDir,
    authservId: c.authservId ?? c.hostname,
    listeners: c.listeners.map((l) => ({ ...l, tls: l.tls ?? DEFAULT_TLS_BY_ROLE[l.role] })),
    tls: {
      cert: path.resolve(dataDir, c.tls.cert),
      key: path.resolve(dataDir, c.tls.key),
      sni: c.tls.sni.map((e) => ({ names: e.names.map((n) => n.toLowerCase()), cert: path.resolve(dataDir, e.cert), key: path.resolve(dataDir, e.key) })),
    },
    queue: { holdOutbound: c.queue.holdOutbound ?? c.dev },
  };
}

/** `listeners[2].port` from ["listeners", 2, "port"]. */
export function formatKeyPath(p: readonly PropertyKey[]): string {
  let out = "";
  for (const k of p) {
    if (typeof k === "number") out += `[${k}]`;
    else out += out === "" ? String(k) : `.${String(k)}`;
  }
  return out;
}

function describeIssue(file: string, issue: z.core.$ZodIssue): string[] {
  const where = (p: readonly PropertyKey[]) => (p.length === 0 ? `${file}: ` : `${file}: ${formatKeyPath(p)}: `);
  switch (issue.code) {
    case "unrecognized_keys":
      // One line per key, each at its own path, so the line names the typo itself.
      return issue.keys.map((k) => `${where([...issue.path, k])}unknown key`);
    case "invalid_type":
      if (issue.input === undefined) return [`${where(issue.path)}missing (required)`];
      if (issue.message.startsWith("Invalid input")) {
        return [`${where(issue.path)}expected ${issue.expected}, got ${describeValue(issue.input)}`];
      }
      return [`${where(issue.path)}${issue.message}`];
    default:
      return [`${where(issue.path)}${issue.message}`];
  }
}

function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `"${v.length > 40 ? v.slice(0, 40) + "…" : v}"`;
  return String(v);
}

function firstLine(s: string): string {
  const i = s.indexOf("\n");
  return i < 0 ? s : s.slice(0, i);
}
