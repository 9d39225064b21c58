import { test } from "node:test";
import assert from "node:assert/strict";
import type { DeliveryResult } from "../store/types.ts";
import { wakeOnQueued } from "./start.ts";

test("the runner is woken by a committed batch that queued mail, not by local-only deliveries", () => {
  const onDelivered = new Set<(batch: DeliveryResult[]) => void>();
  let wakes = 0;
  const remove = wakeOnQueued(onDelivered, { wake: () => void wakes++ });
  const emit = (batch: DeliveryResult[]) => {
    for (const fn of onDelivered) fn(batch);
  };
  emit([{ blobId: 1, delivered: [], queueIds: [] }]);
  assert.equal(wakes, 0);
  emit([{ blobId: 1, delivered: [], queueIds: [] }, { blobId: 2, delivered: [], queueIds: [7] }]);
  assert.equal(wakes, 1);
  remove();
  emit([{ blobId: 3, delivered: [], queueIds: [8] }]);
  assert.equal(wakes, 1);
  assert.equal(onDelivered.size, 0);
});
