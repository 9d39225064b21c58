import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { fetchItems, fetchLine, metadataLine, metadataOnly } from "./fetch.ts";
import type { FetchAtt } from "./protocol/commands.ts";
import type { Session } from "./session.ts";

const META: FetchAtt[] = [{ kind: "UID" }, { kind: "FLAGS" }, { kind: "MODSEQ" }, { kind: "INTERNALDATE" }, { kind: "SAVEDATE" }, { kind: "RFC822.SIZE" }];

test("metadata-only FETCH lines are byte for byte what the general path writes", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.constantFrom(...META), { minLength: 1, maxLength: 6 }),
      fc.record({
        seq: fc.integer({ min: 1, max: 1e6 }),
        uid: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
        modseq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        flags: fc.array(fc.constantFrom("\\Seen", "\\Flagged", "$Label1", "Junk", "\\Deleted")),
        internalDate: fc.integer({ min: 0, max: 4e12 }),
        size: fc.integer({ min: 0, max: 5e7 }),
      }),
      async (atts, m) => {
        assert.ok(metadataOnly(atts));
        const general = Buffer.concat(fetchLine(m.seq, await fetchItems(null as unknown as Session, m, null, atts, async () => Buffer.alloc(0))) as Buffer[]);
        assert.equal(Buffer.from(metadataLine(m.seq, m, atts), "utf8").toString("latin1"), general.toString("latin1"));
      },
    ),
  );
  assert.equal(metadataOnly([{ kind: "UID" }, { kind: "ENVELOPE" }]), false);
});
