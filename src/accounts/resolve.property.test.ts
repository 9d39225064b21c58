// Random alias graphs (with loops, diamonds, self-references, disabled users) against a simple
// model: a recipient reaches exactly the enabled users and external addresses reachable from it
// in the alias graph, each once, and resolution always terminates.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { accountsFixture } from "./testing.ts";
import { resolveRecipient } from "./resolve.ts";

const USERS = 4;
const ALIASES = 6;
const EXTERNALS = 2;

type Target = { kind: "u" | "a" | "e"; i: number };

const target = fc.oneof(
  fc.record({ kind: fc.constant("u" as const), i: fc.nat(USERS - 1) }),
  fc.record({ kind: fc.constant("a" as const), i: fc.nat(ALIASES - 1) }),
  fc.record({ kind: fc.constant("e" as const), i: fc.nat(EXTERNALS - 1) }),
);

const graph = fc.record({
  disabled: fc.array(fc.boolean(), { minLength: USERS, maxLength: USERS }),
  aliases: fc.array(fc.array(target, { minLength: 1, maxLength: 3 }), { minLength: ALIASES, maxLength: ALIASES }),
  // Upper-case some targets: matching must not care.
  shout: fc.boolean(),
});

test("alias expansion matches graph reachability, dedupes, and terminates", async () => {
  const f = await accountsFixture();
  let run = 0;
  try {
    await fc.assert(
      fc.asyncProperty(graph, async (g) => {
        const domain = `r${run++}.test`;
        const d = await f.store.accounts.createDomain(domain);
        const addr = (t: Target) => {
          const a = t.kind === "e" ? `e${t.i}@outside.example` : `${t.kind}${t.i}@${domain}`;
          return g.shout && t.kind !== "e" ? a.toUpperCase() : a;
        };
        for (let i = 0; i < USERS; i++) {
          const u = await f.store.accounts.createUser({ domainId: d.id, localPart: `u${i}`, passwordHash: "!" });
          if (g.disabled[i]) await f.store.accounts.setUserDisabled(u.id, true);
        }
        for (let i = 0; i < ALIASES; i++) {
          await f.store.accounts.createAlias({ domainId: d.id, localPart: `a${i}`, targets: g.aliases[i].map(addr) });
        }
        for (let root = 0; root < ALIASES; root++) {
          // Model: breadth-first reachability over the alias graph.
          const seen = new Set<number>([root]);
          const queue = [root];
          const users = new Set<string>();
          const externals = new Set<string>();
          while (queue.length > 0) {
            const a = queue.shift()!;
            for (const t of g.aliases[a]) {
              if (t.kind === "a" && !seen.has(t.i)) {
                seen.add(t.i);
                queue.push(t.i);
              } else if (t.kind === "u" && !g.disabled[t.i]) users.add(`u${t.i}@${domain}`);
              else if (t.kind === "e") externals.add(`e${t.i}@outside.example`);
            }
          }
          const rootAddr = `a${root}@${domain}`;
          const r = await resolveRecipient(f.store.accounts, rootAddr);
          if (users.size === 0 && externals.size === 0) {
            assert.equal(r.kind, "failed");
            continue;
          }
          assert.equal(r.kind, "deliver");
          if (r.kind !== "deliver") continue;
          const got = r.local.map((l) => l.user.address);
          assert.equal(new Set(got).size, got.length, "one copy per mailbox");
          assert.deepEqual(new Set(got), users);
          assert.deepEqual(new Set(r.external), externals);
          assert.equal(r.external.length, externals.size);
          for (const l of r.local) {
            assert.equal(l.deliveredTo[0], rootAddr);
            assert.equal(l.deliveredTo[l.deliveredTo.length - 1], l.user.address);
            assert.equal(new Set(l.deliveredTo).size, l.deliveredTo.length, "a delivery path never repeats an address");
          }
        }
      }),
      { numRuns: 60 },
    );
  } finally {
    await f.close();
  }
});
