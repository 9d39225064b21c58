// Collected addresses (issue 11 §2): the recipients of mail a user sends go into their
// "Collected" address book, as the big providers do, unless the user opted out
// (`freehold contacts collect USER off`). An address already in any of the user's address books
// is not added again. Runs after the message is queued; a failure here never affects the mail.
import type { Logger } from "../log/logger.ts";
import type { DavStore } from "./store.ts";

export const COLLECTED = "collected";
/** A runaway list (a mass mailing) adds at most this many cards per message. */
const MAX_PER_MESSAGE = 50;

const emailsOf = (card: string): string[] =>
  [...card.replace(/\r?\n[ \t]/g, "").matchAll(/^(?:[A-Za-z0-9-]+\.)?EMAIL(?:;[^:\r\n]*)?:(.+)$/gim)].map((m) => m[1].trim().toLowerCase());

export async function collectRecipients(store: DavStore, owner: string, recipients: string[]): Promise<number> {
  if (!(await store.collectAddresses(owner))) return 0;
  await store.ensureDefaults(owner);
  await store.createCollection(owner, "addressbook", COLLECTED, { displayname: "Collected", description: "People you wrote to" });
  const book = await store.getCollection(owner, "addressbook", COLLECTED);
  if (!book) return 0;
  const known = new Set<string>([owner]);
  for (const c of await store.listCollections(owner, "addressbook")) for (const r of await store.listResources(c.id)) for (const e of emailsOf(r.bytes!.toString("utf8"))) known.add(e);
  let added = 0;
  for (const raw of recipients.slice(0, MAX_PER_MESSAGE)) {
    const a = raw.toLowerCase();
    if (known.has(a) || !/^[^\s@,;:\\"]+@[^\s@,;:\\"]+$/.test(a)) continue;
    known.add(a);
    const uid = `urn:freehold:collected:${a}`;
    const body = ["BEGIN:VCARD", "VERSION:4.0", `UID:${uid}`, `FN:${a}`, `EMAIL:${a}`, "END:VCARD", ""].join("\r\n");
    const name = `${Buffer.from(a).toString("base64url").slice(0, 100)}.vcf`;
    const r = await store.putResource(book.id, { name, uid, contentType: "text/vcard; charset=utf-8", bytes: Buffer.from(body) }, { ifNoneMatch: true });
    if (r.ok) added++;
  }
  return added;
}

/** The submission hook: fire and forget, errors logged. */
export function addressCollector(store: DavStore, logger: Logger): (user: string, recipients: string[]) => void {
  return (user, recipients) => {
    void collectRecipients(store, user, recipients).catch((err) => logger.error({ err }, "could not collect recipient addresses"));
  };
}
