// The export as a download (issue 10 item 1; GET /api/v1/account/export and the admin form
// /api/v1/users/:address/export, docs/api.md "Export"). The export service (export.ts) writes
// the account into a private temporary folder inside the data folder — on disk, so memory stays
// flat whatever the account size — and the answer streams it: eml-zip as the ZIP file itself,
// mbox and Maildir (folders of files) as one pax tar stream (tar.ts). The temporary folder is
// removed when the stream ends, fails or the client goes away.
import { createReadStream } from "node:fs";
import { mkdtemp, mkdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import type { Actor } from "../accounts/authz.ts";
import { actorName, actorSource } from "../accounts/authz.ts";
import type { BlobStore, MetadataStore, UserRecord } from "../store/types.ts";
import { exportAccount } from "./export.ts";
import type { ExportFormat } from "./export.ts";
import { tarDirectory } from "./tar.ts";

export interface ExportDownload {
  stream: Readable;
  fileName: string;
  contentType: string;
  messages: number;
  bytes: number;
}

export interface DownloadOptions {
  store: MetadataStore;
  blobs: BlobStore;
  user: UserRecord;
  format: ExportFormat;
  since?: number;
  /** The data folder: the export is spooled in `<dataDir>/tmp/` (else the system temp folder). */
  dataDir?: string;
  /** Who asked: an export of someone else's mail is written to the audit log. */
  actor: Actor;
}

export async function exportDownload(o: DownloadOptions): Promise<ExportDownload> {
  const base = o.dataDir ? path.join(o.dataDir, "tmp") : os.tmpdir();
  await mkdir(base, { recursive: true, mode: 0o700 });
  const dir = await mkdtemp(path.join(base, "export-"));
  const cleanup = () => rm(dir, { recursive: true, force: true }).catch(() => undefined);
  const safe = o.user.address.replace(/[^A-Za-z0-9._@-]/g, "_");
  try {
    const out = path.join(dir, o.format === "eml-zip" ? "export.zip" : "export");
    const report = await exportAccount({ store: o.store, blobs: o.blobs, user: o.user, format: o.format, out, since: o.since });
    if (o.actor.kind === "system" || o.actor.user.id !== o.user.id) {
      await o.store.audit.append({
        actor: actorName(o.actor),
        source: actorSource(o.actor),
        action: "user.export",
        target: o.user.address,
        detail: o.format,
        domain: o.user.address.slice(o.user.address.lastIndexOf("@") + 1),
        before: null,
        after: JSON.stringify({ messages: report.messages, bytes: report.bytes }),
      });
    }
    const stream = o.format === "eml-zip" ? createReadStream(out) : Readable.from(tarDirectory(out, `${safe}.${o.format}`));
    stream.once("close", cleanup);
    stream.once("error", cleanup);
    return {
      stream,
      fileName: o.format === "eml-zip" ? `${safe}.zip` : `${safe}.${o.format}.tar`,
      contentType: o.format === "eml-zip" ? "application/zip" : "application/x-tar",
      messages: report.messages,
      bytes: report.bytes,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
