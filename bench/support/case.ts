// What a benchmark case is and what it returns. A case measures Freehold and a reference server
// (Postfix, Dovecot) in the same run, because this machine's speed varies by tens of percent
// between runs: only ratios from one run mean anything.

export type Better = "higher" | "lower";

/** One line of a case's table: the same metric for both sides. null = not measured. */
export interface Row {
  metric: string;
  unit: string;
  freehold: number | null;
  reference: number | null;
  /** Which direction is better; decides how the ratio reads. */
  better: Better;
  /** With several runs (BENCH_REPEAT): the lowest and highest of each side's figures. */
  freeholdRange?: [number, number] | null;
  referenceRange?: [number, number] | null;
  /** The goal for this line, printed in the table's goal column with met / not met. */
  goal?: Goal;
}

/** A goal: Freehold's advantage (`freehold ×`) at least `ratio`, or its own figure at most `atMost` / at least `atLeast` (in the row's unit). */
export type Goal = { ratio: number } | { atMost: number } | { atLeast: number };

/** "met", "not met", or null when the line was not measured. */
export function goalMet(row: Row): boolean | null {
  if (!row.goal) return null;
  if ("ratio" in row.goal) {
    const a = advantage(row);
    return a === null ? null : a >= row.goal.ratio;
  }
  if (row.freehold === null) return null;
  return "atMost" in row.goal ? row.freehold <= row.goal.atMost : row.freehold >= row.goal.atLeast;
}

export function goalText(row: Row): string {
  if (!row.goal) return "";
  if ("ratio" in row.goal) return `≥ ${row.goal.ratio}×`;
  return "atMost" in row.goal ? `≤ ${row.goal.atMost} ${row.unit}` : `≥ ${row.goal.atLeast} ${row.unit}`;
}

export interface Section {
  /** e.g. "new connection per message". */
  title: string;
  rows: Row[];
}

export interface CaseResult {
  /** The reference's name, e.g. "Postfix 3.7 + Dovecot 2.3 (LMTP)". */
  reference: string;
  sections: Section[];
  /** Lines printed under the table: unavailable sides, settings, caveats. */
  notes: string[];
  /** Parameters the run used (message count, size, connections ...), saved in the JSON. */
  params: Record<string, unknown>;
}

export interface CaseContext {
  /** Folder for this case's temporary state (removed after the case). */
  tmpDir: string;
  /** Repository root (to start Freehold's CLI). */
  root: string;
  /** Progress lines (stderr), so stdout holds only the tables. */
  log(msg: string): void;
  env: NodeJS.ProcessEnv;
}

export interface BenchCase {
  name: string;
  description: string;
  /** Runs when BENCH_REPEAT is not set (default 1). */
  repeat?: number;
  run(ctx: CaseContext): Promise<CaseResult>;
}

/** Freehold relative to the reference, >1 meaning Freehold is better whichever the direction. */
export function advantage(row: Row): number | null {
  if (row.freehold === null || row.reference === null) return null;
  if (row.better === "higher") return row.reference === 0 ? null : row.freehold / row.reference;
  return row.freehold === 0 ? null : row.reference / row.freehold;
}

/** An integer from the environment, or the default; throws on garbage so typos are not ignored. */
export function envInt(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  const v = env[name];
  if (v === undefined || v === "") return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}=${v}: expected a whole number`);
  return n;
}

export function envBool(env: NodeJS.ProcessEnv, name: string, dflt: boolean): boolean {
  const v = env[name];
  if (v === undefined || v === "") return dflt;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new Error(`${name}=${v}: expected 1 or 0`);
}

export function median(xs: number[]): number {
  return percentile(xs, 50);
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i];
}
