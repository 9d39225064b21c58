// GTUBE, the Generic Test for Unsolicited Bulk Email (SpamAssassin's definition, which rspamd
// follows): a message whose body contains this string always scores as spam, so an operator can
// test the spam path end to end without real spam.
export const GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

const GTUBE_BYTES = Buffer.from(GTUBE, "latin1");

/** True when the (raw) message bytes contain the GTUBE string. */
export function hasGtube(message: Uint8Array): boolean {
  return Buffer.from(message.buffer, message.byteOffset, message.byteLength).includes(GTUBE_BYTES);
}
