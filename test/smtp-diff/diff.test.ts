// The Postfix differential (issue 18 point 5): every session in sessions/*.yaml is sent, byte for
// byte, to Debian's Postfix and to Freehold's mx; their reply classes are compared step by step
// and what each stored is compared after normalisation (peers.ts). Each difference must be listed
// in differences.yaml with its reason, and each listed one must still happen. Freehold must store
// exactly the session's `messages` count (smuggling would make one more), Postfix the same or
// the count its stored difference lists.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import YAML from "yaml";
import { loadSessions } from "./session.ts";
import { runSession, signature } from "./run-session.ts";
import type { SessionResult } from "./run-session.ts";
import { startFreeholdPeer, startPostfixPeer } from "./peers.ts";
import type { DiffPeer } from "./peers.ts";
import { postfixUnavailable } from "../support/postfix.ts";
import { pendingHSmtp, pendingList, warnIfPendingPassed } from "./pending.ts";

interface Difference {
  session: string;
  step?: number;
  stored?: boolean;
  content?: boolean;
  postfix?: string | number;
  freehold?: string | number;
  reason: string;
}

const here = import.meta.dirname;
// SMTP_DIFF_ONLY=name[,name…] runs only those sessions (while writing one).
const only = process.env.SMTP_DIFF_ONLY?.split(",");
const sessions = (await loadSessions()).filter((s) => !only || only.includes(s.name));
const differences = (YAML.parse(await readFile(path.join(here, "differences.yaml"), "utf8")) ?? []) as Difference[];
const pending = new Set(pendingList());
for (const d of differences) {
  if (!only && !sessions.some((s) => s.name === d.session)) throw new Error(`differences.yaml: no session ${d.session}`);
  if (!d.reason || d.reason.length < 10) throw new Error(`differences.yaml: ${d.session} needs a reason`);
}
for (const p of pending) if (!only && !p.startsWith("test:") && !sessions.some((s) => s.name === p)) throw new Error(`pending-h-smtp.yaml: no session ${p}`);

const unavailable = postfixUnavailable();
let postfix: DiffPeer | undefined;
let freehold: DiffPeer | undefined;

before(async () => {
  if (unavailable) return;
  [postfix, freehold] = await Promise.all([startPostfixPeer(), startFreeholdPeer()]);
});

after(async () => {
  await Promise.all([postfix?.stop(), freehold?.stop()]);
});

function describe(r: SessionResult): string {
  return r.steps.map((s, i) => `  step ${i + 1}: ${signature(s)}  ${s.texts.map((t) => t.split("\n").at(-1)?.slice(0, 90)).slice(0, 4).join(" | ")}${s.texts.length > 4 ? " | …" : ""}`).join("\n");
}

test("the differential has sessions and Postfix to compare with", () => {
  if (unavailable && process.env.CI !== "true") {
    console.warn(`SKIPPED the Postfix differential: ${unavailable}`);
    return;
  }
  assert.equal(unavailable, undefined, "Postfix must be available under CI");
  if (!only) assert.ok(sessions.length >= 20, `only ${sessions.length} sessions`);
});

for (const session of sessions) {
  const todo = pendingHSmtp(session.name);
  test(`${session.name}: ${session.description}`, { todo, skip: unavailable ? `Postfix unavailable: ${unavailable}` : undefined }, async (t) => {
    const [pf, fh] = await Promise.all([runSession(session, postfix!.port), runSession(session, freehold!.port)]);
    const [pfStored, fhStored] = await Promise.all([postfix!.stored(), freehold!.stored()]);
    t.diagnostic(`postfix:\n${describe(pf)}\n  stored: ${pfStored.length}`);
    t.diagnostic(`freehold:\n${describe(fh)}\n  stored: ${fhStored.length}`);
    const mine = differences.filter((d) => d.session === session.name);
    const problems: string[] = [];
    const used = new Set<Difference>();
    assert.equal(pf.greeting[0], 220, "postfix greeting");
    assert.equal(fh.greeting[0], 220, "freehold greeting");
    session.steps.forEach((_, i) => {
      const a = signature(pf.steps[i]!);
      const b = signature(fh.steps[i]!);
      const listed = mine.find((d) => d.step === i + 1);
      if (listed) used.add(listed);
      if (a === b) {
        if (listed) problems.push(`step ${i + 1}: listed as a difference (${listed.postfix} vs ${listed.freehold}) but both gave ${a}`);
      } else if (!listed || String(listed.postfix) !== a || String(listed.freehold) !== b) {
        problems.push(`step ${i + 1}: postfix ${a}, freehold ${b}${listed ? ` (listed: postfix ${listed.postfix}, freehold ${listed.freehold})` : " (not in differences.yaml)"}`);
      }
    });
    // Freehold must store exactly what the session says: never a smuggled extra message.
    assert.equal(fhStored.length, session.messages, `freehold stored ${fhStored.length} messages, the session expects ${session.messages}\n${problems.join("\n")}`);
    const storedDiff = mine.find((d) => d.stored);
    if (storedDiff) used.add(storedDiff);
    if (pfStored.length !== fhStored.length) {
      if (!storedDiff || Number(storedDiff.postfix) !== pfStored.length || Number(storedDiff.freehold) !== fhStored.length) {
        problems.push(`stored: postfix ${pfStored.length}, freehold ${fhStored.length} (${storedDiff ? "listed differently" : "not in differences.yaml"})`);
      }
    } else {
      if (storedDiff) problems.push(`stored: listed as a difference but both stored ${pfStored.length}`);
      const contentDiff = mine.find((d) => d.content);
      if (contentDiff) used.add(contentDiff);
      const same = pfStored.every((m, i) => m.equals(fhStored[i]!));
      if (!same && !contentDiff) {
        const i = pfStored.findIndex((m, k) => !m.equals(fhStored[k]!));
        problems.push(`stored content differs (message ${i + 1}):\n--- postfix\n${JSON.stringify(pfStored[i]!.toString("latin1").slice(0, 1500))}\n--- freehold\n${JSON.stringify(fhStored[i]!.toString("latin1").slice(0, 1500))}`);
      }
      if (same && contentDiff) problems.push("content: listed as a difference but the stored messages are the same");
    }
    for (const d of mine) if (!used.has(d)) problems.push(`differences.yaml entry not matched: ${JSON.stringify(d)}`);
    assert.deepEqual(problems, [], `${session.name}\npostfix:\n${describe(pf)}\nfreehold:\n${describe(fh)}`);
    warnIfPendingPassed(session.name);
  });
}
