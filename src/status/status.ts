// What the dashboard shows at a glance (issue 9 §3, GET /api/v1/status): every TLS certificate
// the server has loaded (the main one and those of tls.sni, current after reloads) with its
// names, expiry, issuer and days left; and the data folder's file system (size and free, from
// statfs) with the size of the SQLite databases in it.
//
// Deliberately no walk of the folder per request (src/status/disk-usage.ts does that for
// `freehold status`; on a big store it reads every blob's inode): the message files are not
// counted here, only the databases (each *.sqlite with its -wal, -shm and -journal), which are
// a handful of stat calls.
import fs from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import type { LoadedTls } from "../tls/context.ts";
import { categoryOf } from "./disk-usage.ts";

const DAY = 86_400_000;
/** The dashboard's warning thresholds (docs/web.md "Dashboard"). */
export const WARN_DAYS_LEFT = 14;
export const WARN_FREE_PERCENT = 10;

export const CertificateStatusSchema = z.strictObject({
  /** "main" (tls.cert) or "sni" (an entry of tls.sni). */
  use: z.enum(["main", "sni"]),
  subject: z.string(),
  names: z.array(z.string()),
  issuer: z.string().nullable(),
  notAfter: z.string(),
  daysLeft: z.number().int(),
  /** The main certificate with ACME on: when it is renewed and why (src/acme/manager.ts plan). */
  renewal: z.strictObject({ at: z.string(), reason: z.string() }).optional(),
});

export const ServerStatusSchema = z.strictObject({
  certificates: z.array(CertificateStatusSchema),
  disk: z.strictObject({
    dataDir: z.string(),
    /** The file system holding the data folder (statfs). */
    sizeBytes: z.number().int(),
    freeBytes: z.number().int(),
    freePercent: z.number(),
    /** The SQLite databases of the store (allocated bytes, -wal/-shm/-journal included). */
    databaseBytes: z.number().int(),
    databases: z.array(z.strictObject({ name: z.string(), bytes: z.number().int() })),
  }),
  thresholds: z.strictObject({ daysLeft: z.number().int(), freePercent: z.number() }),
});
export type ServerStatus = z.infer<typeof ServerStatusSchema>;

export interface StatusSources {
  /** The main certificate, when the process has one loaded. */
  main?: LoadedTls;
  /** The tls.sni certificates. */
  sni?: () => LoadedTls[];
  dataDir: string;
  now: () => number;
  /** acme.enabled: the main certificate gets the ACME manager's renewal plan (<data>/acme/plan.json). */
  acme?: boolean;
}

/** The plan the ACME manager last wrote (src/acme/manager.ts plan), or undefined. */
export async function renewalPlan(dataDir: string): Promise<{ at: string; reason: string } | undefined> {
  try {
    const v = JSON.parse(await fs.readFile(path.join(dataDir, "acme", "plan.json"), "utf8")) as Record<string, unknown>;
    if (typeof v.at === "string" && typeof v.reason === "string") return { at: v.at, reason: v.reason };
  } catch {
    // none yet (the first check has not run) or being replaced
  }
  return undefined;
}

export function certificateStatus(live: LoadedTls, use: "main" | "sni", now: number): z.infer<typeof CertificateStatusSchema> {
  return {
    use,
    subject: live.subject.replace(/\n/g, ", "),
    names: live.names ?? [],
    issuer: live.issuer ?? null,
    notAfter: new Date(live.notAfter).toISOString(),
    daysLeft: Math.floor((live.notAfter - now) / DAY),
  };
}

export async function serverStatus(src: StatusSources): Promise<ServerStatus> {
  const now = src.now();
  const certificates = [...(src.main ? [certificateStatus(src.main, "main", now)] : []), ...(src.sni?.() ?? []).map((c) => certificateStatus(c, "sni", now))];
  const renewal = src.acme && certificates[0]?.use === "main" ? await renewalPlan(src.dataDir) : undefined;
  if (renewal) certificates[0]!.renewal = renewal;
  const st = await fs.statfs(src.dataDir);
  const sizeBytes = st.blocks * st.bsize;
  const freeBytes = st.bavail * st.bsize;
  const byDb = new Map<string, number>();
  for (const name of await fs.readdir(src.dataDir)) {
    // The same rule as `freehold status`'s walk: a database with its -wal/-shm/-journal.
    const category = categoryOf(name, null);
    if (!category.startsWith("database ")) continue;
    const m = [name, category.slice("database ".length)];
    try {
      const s = await fs.lstat(path.join(src.dataDir, name));
      if (s.isFile()) byDb.set(m[1], (byDb.get(m[1]) ?? 0) + s.blocks * 512);
    } catch {
      // removed meanwhile (a -journal at the end of a transaction)
    }
  }
  const databases = [...byDb].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => a.name.localeCompare(b.name));
  return {
    certificates,
    disk: {
      dataDir: src.dataDir,
      sizeBytes,
      freeBytes,
      freePercent: sizeBytes > 0 ? Math.round((freeBytes / sizeBytes) * 1000) / 10 : 0,
      databaseBytes: databases.reduce((n, d) => n + d.bytes, 0),
      databases,
    },
    thresholds: { daysLeft: WARN_DAYS_LEFT, freePercent: WARN_FREE_PERCENT },
  };
}
