// What an import stored, as rows the migration tests compare with the source: one per message
// copy, its folder, the SHA-256 of what IMAP BODY[] serves (trace headers + blob), its flags and
// its internal date in seconds.
import { createHash } from "node:crypto";
import { openStorage } from "../../src/store/open.ts";

export type Row = { folder: string; sha: string; flags: string; date: number };

export const sortRows = (r: Row[]): Row[] => r.sort((a, b) => (`${a.folder}\0${a.sha}` < `${b.folder}\0${b.sha}` ? -1 : 1));

/** Every message of `address` in the data folder `dir`, sorted. */
export async function storedRows(dir: string, address: string): Promise<Row[]> {
  const s = await openStorage(dir);
  try {
    const u = await s.store.accounts.getUserByAddress(address);
    if (!u) throw new Error(`no user ${address}`);
    const out: Row[] = [];
    for (const mb of await s.store.mail.listMailboxes(u.id)) {
      for (const m of await s.store.mail.listMessages(mb.id)) {
        const sha = createHash("sha256").update(m.traceHeaders).update(await s.blobs.readAll(m.blobId)).digest("hex");
        out.push({ folder: mb.name, sha, flags: [...m.flags].sort().join(" "), date: Math.floor(m.internalDate / 1000) });
      }
    }
    return sortRows(out);
  } finally {
    await s.close();
  }
}
