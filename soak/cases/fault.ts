// Issue 13 §3, faults: disk full, the database locked or read-only, blobs missing or damaged,
// DNS timeouts and SERVFAIL, and kill -9 during every kind of write. Each case lives in
// soak/cases/fault/; CI runs the short mode from test/hardening/fault.test.ts.
import type { SoakCase } from "../support/case.ts";
import { blobCase } from "./fault/blob.ts";
import { diskCase } from "./fault/disk.ts";
import { databaseCase } from "./fault/database.ts";
import { dnsCase } from "./fault/dns.ts";
import { killCase } from "./fault/kill.ts";

export const soakCases: SoakCase[] = [diskCase, databaseCase, blobCase, dnsCase, killCase];
