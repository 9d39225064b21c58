// MTA-STS policy file (RFC 8461 §3.2) for https://mta-sts.<domain>/.well-known/mta-sts.txt.
// §3.3: served over HTTPS with a valid certificate for mta-sts.<domain>, as text/plain, answered
// directly (senders "MUST NOT" follow 3xx redirects). The text is health/service.ts mtaStsPolicy:
// the one the _mta-sts TXT record's id= is computed from (records.ts mtaStsId), so the record
// always names the file served. One policy serves every domain: they all share this MX.
import type { Config } from "../../config/schema.ts";
import { mtaStsPolicy } from "../../health/service.ts";

export const MTA_STS_PATH = "/.well-known/mta-sts.txt";
export const MTA_STS_CONTENT_TYPE = "text/plain; charset=utf-8";

export function mtaStsFile(config: Pick<Config, "hostname" | "mtaSts">): string {
  return mtaStsPolicy(config);
}
