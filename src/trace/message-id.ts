// The Message-ID of a message from its first bytes, for the log lines `freehold trace` follows
// (RFC 5322 §3.6.4: msg-id = "<" id-left "@" id-right ">"; the field may be folded, §2.2.3).
// Only the header section is looked at; a missing or unparsable field gives null.

/** How much of the start of a message is kept to find its Message-ID. */
export const MESSAGE_ID_SCAN = 16 * 1024;

export function messageIdOf(head: Buffer | string): string | null {
  const text = typeof head === "string" ? head : head.toString("latin1");
  const end = text.search(/\r?\n\r?\n/);
  const header = (end < 0 ? text : text.slice(0, end)).replace(/\r?\n[ \t]+/g, " ");
  const m = /^message-id:[ \t]*(<[^<>\s]{1,500}>)/im.exec(header);
  return m ? m[1] : null;
}
