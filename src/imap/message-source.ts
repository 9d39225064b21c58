// Where a message's bytes come from: the trace headers this server added on delivery (stored in
// the message row), then the blob. FETCH of the whole message or a range of it streams the blob
// (a DeferredBody whose source is a MessageSlice); sections that need the MIME structure load
// the message once per FETCH item set.
import type { BlobStore, MessageRecord } from "../store/types.ts";
import type { DeferredBody } from "./protocol/wire-values.ts";

/** Bytes [start, end) of a stored message: a mix of in-row trace bytes and a blob range. */
export interface MessageSlice {
  segments: Array<Buffer | { blobId: number; start: number; end: number }>;
}

export function traceBytes(rec: MessageRecord): Buffer {
  return Buffer.from(rec.traceHeaders, "utf8");
}

/** A DeferredBody for bytes [start, end) of the message, streamed when written. */
export function sliceBody(rec: MessageRecord, start: number, end: number): DeferredBody {
  const trace = traceBytes(rec);
  const segments: MessageSlice["segments"] = [];
  if (start < trace.length) segments.push(trace.subarray(start, Math.min(end, trace.length)));
  const bStart = Math.max(0, start - trace.length);
  const bEnd = Math.max(0, end - trace.length);
  if (bEnd > bStart) segments.push({ blobId: rec.blobId, start: bStart, end: bEnd });
  return { kind: "deferred", size: Math.max(0, end - start), source: { segments } satisfies MessageSlice };
}

export function isMessageSlice(x: unknown): x is MessageSlice {
  return typeof x === "object" && x !== null && Array.isArray((x as MessageSlice).segments);
}

/** The whole stored message in memory (for structure-based items). */
export async function loadMessage(blobs: BlobStore, rec: MessageRecord): Promise<Buffer> {
  const body = await blobs.readAll(rec.blobId);
  const trace = traceBytes(rec);
  return trace.length ? Buffer.concat([trace, body]) : body;
}
