// The IMAP differential suite: every script under test/imap-diff/scripts/ is played against a
// real Dovecot and against Freehold with the same users and messages, the answers are
// normalized (normalize.ts: N1-N8) and compared step by step. A step that still differs must
// be explained by intended-differences.yaml (reason + RFC) or belong to a script listed in
// known-failing.yaml (a Freehold bug with the issue bullet that tracks it); anything else fails.
// Under CI=true a full run also fails when a known-failing entry explained no step (fixed: delete it).
// Environment:
//   IMAP_DIFF_ONLY=glob[,glob]  only these scripts (e.g. "fetch/*")
//   IMAP_DIFF_VERBOSE=1         print every differing step, known ones included
//   IMAP_DIFF_LANES=n           scripts played side by side (default 6)
//   IMAP_DIFF_REPEAT=n          soak: play the corpus n times (fresh users each time), so
//                               scripts meet other interleavings; every round must agree
import { test } from "node:test";
import assert from "node:assert/strict";
import { dovecotUnavailable } from "../support/dovecot.ts";
import { globMatch, loadAllScripts } from "./script.ts";
import { play } from "./play.ts";
import { compareScript, describe, loadExpectations } from "./compare.ts";
import type { ScriptOutcome } from "./compare.ts";
import { accountFor, startServers } from "./servers.ts";

const CI = process.env.CI === "true";

test("Freehold answers the scripted IMAP sessions like Dovecot", { timeout: 300_000 }, async (t) => {
  const why = dovecotUnavailable();
  if (why !== undefined) {
    if (CI) assert.fail(`Dovecot unavailable under CI: ${why}`);
    t.skip(why);
    return;
  }
  const ex = loadExpectations();
  const only = process.env.IMAP_DIFF_ONLY?.split(",").filter(Boolean);
  const selected = loadAllScripts().filter((s) => !only || only.some((g) => globMatch(g, s.name)));
  const rounds = Math.max(1, Number(process.env.IMAP_DIFF_REPEAT ?? 1));
  const scripts = Array.from({ length: rounds }, () => selected).flat();
  assert.ok(scripts.length > 0, "no scripts");
  const accounts = scripts.map((_, i) => accountFor(i));
  const servers = await startServers(accounts);
  const outcomes: ScriptOutcome[] = new Array(scripts.length);
  const started = Date.now();
  const busy = { dovecot: 0, freehold: 0 };
  try {
    let next = 0;
    const lane = async (): Promise<void> => {
      for (let i = next++; i < scripts.length; i = next++) {
        const s = scripts[i];
        const opts = { capabilities: ex.capabilities };
        const timed = async <T,>(k: "dovecot" | "freehold", p: Promise<T>): Promise<T> => {
          const t0 = Date.now();
          const r = await p;
          busy[k] += Date.now() - t0;
          return r;
        };
        const [d, f] = await Promise.all([
          timed("dovecot", play(s, { name: "dovecot", port: servers.dovecotPort }, accounts[i], opts)),
          timed("freehold", play(s, { name: "freehold", port: servers.freeholdPort }, accounts[i], opts)),
        ]);
        outcomes[i] = compareScript(s.name, d, f, ex);
      }
    };
    await Promise.all(Array.from({ length: Number(process.env.IMAP_DIFF_LANES ?? 6) }, lane));
  } finally {
    await servers.stop();
  }
  const verbose = process.env.IMAP_DIFF_VERBOSE === "1";
  let lines = 0;
  let steps = 0;
  let intended = 0;
  let known = 0;
  const unexplained: ScriptOutcome[] = [];
  const knownNowPassing: string[] = [];
  const fired = new Map<string, number>();
  const knownFired = new Map<string, number>();
  for (const o of outcomes) {
    lines += o.lines;
    steps += o.steps;
    intended += o.intended.length;
    for (const i of o.intended) for (const r of i.rules) fired.set(r, (fired.get(r) ?? 0) + 1);
    known += o.known.length;
    for (const k of o.known) for (const id of k.ids) knownFired.set(id, (knownFired.get(id) ?? 0) + 1);
    if (verbose && o.known.length > 0) console.log(`# known-failing in ${o.name}\n${o.known.map((k) => `  [${k.ids.join(", ")}]\n${describe(k.diff)}`).join("\n")}`);
    if (o.diffs.length > 0) unexplained.push(o);
  }
  // Only a full corpus can say that an entry is no longer needed.
  if (!only) for (const k of ex.known) if (!knownFired.has(k.id)) knownNowPassing.push(`${k.id} (${k.issue})`);
  const unexplainedSteps = unexplained.reduce((n, o) => n + o.diffs.length, 0);
  console.log(
    `# imap-diff: ${scripts.length} scripts${rounds > 1 ? ` (${selected.length} × ${rounds})` : ""}, ${steps} steps, ${lines} lines compared in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
      `(script time: Dovecot ${(busy.dovecot / 1000).toFixed(1)} s, Freehold ${(busy.freehold / 1000).toFixed(1)} s); ` +
      `differing steps: ${intended} intended, ${known} known-failing, ${unexplainedSteps} unexplained`,
  );
  if (verbose) for (const [id, n] of [...fired].sort()) console.log(`#   intended ${id}: ${n} steps`);
  for (const [id, n] of [...knownFired].sort()) console.log(`#   known-failing ${id}: ${n} steps`);
  for (const name of knownNowPassing) console.log(`# known-failing ${name}: no step needed it in this run; remove it from known-failing.yaml if fixed`);
  for (const o of unexplained) console.log(`# UNEXPLAINED ${o.name}\n${o.diffs.map((d) => describe(d)).join("\n")}`);
  assert.ok(lines > 0, "nothing was compared");
  // Under CI the file must stay true: an entry no step needed in a full run is a fixed bug
  // whose entry was left behind (it would hide the bug coming back in another form).
  if (CI) assert.deepEqual(knownNowPassing, [], "known-failing.yaml entries that no step needed: delete them");
  assert.deepEqual(
    unexplained.map((o) => o.name),
    [],
    `${unexplainedSteps} unexplained differences (see the output above)`,
  );
});
