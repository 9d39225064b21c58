// Comparison of two normalized transcripts under the intended differences (a data file, each
// entry with its reason and RFC) and the known-failing list (scripts that show a Freehold bug
// being fixed elsewhere, or found here and not yet fixed).
import { readFileSync } from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { DIFF_DIR, globMatch } from "./script.ts";
import type { StepResult } from "./play.ts";
import { sortSegments } from "./normalize.ts";

export interface Rule {
  id: string;
  reason: string;
  rfc: string;
  /** Script-name globs the rule applies to (default: all). */
  scripts?: string[];
  /** Whose lines it edits (default both). */
  side?: "dovecot" | "freehold" | "both";
  /** Only in steps whose label matches this regex. */
  step?: string;
  /** Remove lines matching this regex. */
  drop?: string;
  /** [regex, replacement] on each line. */
  replace?: [string, string];
  /** Lines matching this regex that only `side` sends are allowed (the other side omits them). */
  extra?: string;
  /** Any difference at steps matching `step` is intended. */
  accept?: boolean;
}

/**
 * A Freehold bug the suite shows. With drop/replace it is a line rule like an intended
 * difference (applied after those); without, every difference in its scripts is known.
 */
export interface Known {
  id: string;
  scripts: string[];
  issue: string;
  /** Who fixes it (a helper branch), or "unfixed" for a bug found by this suite and left. */
  by: string;
  side?: "dovecot" | "freehold" | "both";
  step?: string;
  drop?: string;
  replace?: [string, string];
  extra?: string;
}

type Compiled<T> = T & { re?: RegExp; rep?: [RegExp, string]; stepRe?: RegExp; extraRe?: RegExp };

function compile<T extends { drop?: string; replace?: [string, string]; step?: string; extra?: string }>(r: T): Compiled<T> {
  return {
    ...r,
    extraRe: r.extra ? new RegExp(r.extra) : undefined,
    re: r.drop ? new RegExp(r.drop) : undefined,
    rep: r.replace ? [new RegExp(r.replace[0], "g"), r.replace[1]] : undefined,
    stepRe: r.step ? new RegExp(r.step) : undefined,
  };
}

export interface Expectations {
  capabilities: Set<string>;
  rules: Array<Compiled<Rule>>;
  known: Array<Compiled<Known>>;
}

export function loadExpectations(): Expectations {
  const doc = YAML.parse(readFileSync(path.join(DIFF_DIR, "intended-differences.yaml"), "utf8")) as {
    capabilities: string[];
    differences: Rule[];
  };
  const known = YAML.parse(readFileSync(path.join(DIFF_DIR, "known-failing.yaml"), "utf8")) as { known: Known[] };
  for (const r of doc.differences) {
    if (!r.id || !r.reason || !r.rfc) throw new Error(`intended difference without id/reason/rfc: ${JSON.stringify(r)}`);
    if (!r.drop && !r.replace && !r.accept && !r.extra) throw new Error(`intended difference ${r.id} does nothing`);
  }
  for (const k of known.known ?? []) {
    if (!k.id || !k.issue || !k.by || !k.scripts?.length) throw new Error(`known-failing entry without id/issue/by/scripts: ${JSON.stringify(k)}`);
  }
  const ids = [...doc.differences, ...(known.known ?? [])].map((r) => r.id);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup) throw new Error(`rule id ${dup} used twice`);
  return {
    capabilities: new Set(doc.capabilities.map((c) => c.toUpperCase())),
    rules: doc.differences.map(compile),
    known: (known.known ?? []).map(compile),
  };
}

export interface StepDiff {
  label: string;
  dovecot: string[];
  freehold: string[];
}

export interface ScriptOutcome {
  name: string;
  steps: number;
  lines: number;
  /** Steps that differed before the rules and agree after, with the rules that made them agree. */
  intended: Array<{ label: string; rules: string[] }>;
  /** Steps that differ because of a known Freehold bug, with its ids. */
  known: Array<{ label: string; ids: string[]; diff: StepDiff }>;
  /** Steps that still differ. */
  diffs: StepDiff[];
}

function applies(r: { scripts?: string[]; stepRe?: RegExp }, script: string, label: string): boolean {
  if (r.scripts && !r.scripts.some((g) => globMatch(g, script))) return false;
  if (r.stepRe && !r.stepRe.test(label)) return false;
  return true;
}

function edit(lines: string[], rules: Array<Compiled<Rule | Known>>, side: "dovecot" | "freehold", fired: Set<string>): string[] {
  let out = lines;
  for (const r of rules) {
    if (r.side && r.side !== "both" && r.side !== side) continue;
    if (r.re) {
      const kept = out.filter((l) => !r.re!.test(l));
      if (kept.length !== out.length) fired.add(r.id);
      out = kept;
    }
    if (r.rep) {
      const next = out.map((l) => l.replace(r.rep![0], r.rep![1]));
      if (next.some((l, i) => l !== out[i])) fired.add(r.id);
      out = next;
    }
  }
  return out === lines ? out : sortSegments(out);
}

/** Lines an `extra` rule compares by: a FETCH by its message, anything else whole. */
const extraKey = (l: string): string => /^\* \d+ FETCH /.exec(l)?.[0] ?? l;

/**
 * `extra` rules: a line of one side that matches, and that the other side has nothing for (no
 * line with its key), goes.
 */
function extras(d: string[], f: string[], rules: Array<Compiled<Rule | Known>>, fired: Set<string>): [string[], string[]] {
  for (const r of rules) {
    if (!r.extraRe) continue;
    const cut = (mine: string[], theirs: string[]): string[] => {
      const keys = new Set(theirs.map(extraKey));
      return mine.filter((l) => {
        if (keys.has(extraKey(l)) || !r.extraRe!.test(l)) return true;
        fired.add(r.id);
        return false;
      });
    };
    const d2 = r.side !== "freehold" ? cut(d, f) : d;
    const f2 = r.side !== "dovecot" ? cut(f, d) : f;
    d = d2;
    f = f2;
  }
  return [d, f];
}

const same = (a: string[], b: string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

export function compareScript(name: string, dovecot: StepResult[], freehold: StepResult[], ex: Expectations): ScriptOutcome {
  const outcome: ScriptOutcome = { name, steps: 0, lines: 0, intended: [], known: [], diffs: [] };
  const n = Math.max(dovecot.length, freehold.length);
  for (let i = 0; i < n; i++) {
    const d = dovecot[i] ?? { label: "(missing)", lines: [] };
    const f = freehold[i] ?? { label: "(missing)", lines: [] };
    const label = d.label;
    outcome.steps++;
    outcome.lines += Math.max(d.lines.length, f.lines.length);
    if (same(d.lines, f.lines) && d.label === f.label) continue;
    const rules = ex.rules.filter((r) => applies(r, name, label));
    const fired = new Set<string>();
    const accepted = rules.find((r) => r.accept);
    if (accepted) {
      outcome.intended.push({ label, rules: [accepted.id] });
      continue;
    }
    // Line rules first (intended, then known), then the extra-line rules: a line one side
    // sends in another form must be rewritten before it can be told apart from an extra one.
    const pipeline = (set: Array<Compiled<Rule | Known>>, f2: Set<string>): [string[], string[]] =>
      extras(edit(d.lines, set, "dovecot", f2), edit(f.lines, set, "freehold", f2), set, f2);
    const [dl, fl] = pipeline(rules, fired);
    if (same(dl, fl) && d.label === f.label) {
      outcome.intended.push({ label, rules: [...fired] });
      continue;
    }
    const known = ex.known.filter((k) => applies(k, name, label));
    const kf = new Set<string>();
    const [dk, fk] = pipeline([...rules, ...known], kf);
    const knownIds = known.map((k) => k.id);
    const whole = known.filter((k) => !k.re && !k.rep && !k.extraRe);
    const diff = { label, dovecot: dl, freehold: fl };
    if (same(dk, fk) && d.label === f.label) outcome.known.push({ label, ids: [...kf].filter((id) => knownIds.includes(id)), diff });
    else if (whole.length > 0) outcome.known.push({ label, ids: whole.map((k) => k.id), diff });
    else outcome.diffs.push({ label, dovecot: dk, freehold: fk });
  }
  return outcome;
}

/** Where two lines part, with a little context before. */
function parting(a: string, b: string): [string, string] {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const from = Math.max(0, i - 60);
  const cut = (s: string): string => `${from > 0 ? "…" : ""}${s.slice(from, i + 140)}${s.length > i + 140 ? "…" : ""}`;
  return [cut(a), cut(b)];
}

/** A diff as a few readable lines: lines only one side has, lines that part, shown where. */
export function describe(d: StepDiff, max = 6): string {
  const onlyD = d.dovecot.filter((l) => !d.freehold.includes(l));
  const onlyF = d.freehold.filter((l) => !d.dovecot.includes(l));
  const out = [`  at ${d.label}`];
  // Lines with the same start (e.g. "* 3 FETCH") are shown paired, from where they part.
  const key = (l: string): string => l.split(" ").slice(0, 3).join(" ");
  const paired = new Set<string>();
  let shown = 0;
  for (const l of onlyD) {
    const m = onlyF.find((x) => key(x) === key(l) && !paired.has(x));
    if (!m || shown >= max) continue;
    paired.add(m).add(l);
    shown++;
    const [a, b] = parting(l, m);
    out.push(`    dovecot : ${a}`, `    freehold: ${b}`);
  }
  const cut = (s: string): string => (s.length > 400 ? `${s.slice(0, 400)}…` : s);
  for (const l of onlyD.filter((x) => !paired.has(x)).slice(0, max)) out.push(`    dovecot : ${cut(l)}`);
  for (const l of onlyF.filter((x) => !paired.has(x)).slice(0, max)) out.push(`    freehold: ${cut(l)}`);
  if (onlyD.length === 0 && onlyF.length === 0) out.push(`    (same lines, another order or count) dovecot: ${cut(d.dovecot.join(" | "))}`, `    freehold: ${cut(d.freehold.join(" | "))}`);
  return out.join("\n");
}
