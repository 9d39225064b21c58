// Live checks of a domain's records against what `freehold dns records` says they should be:
// MX, A/AAAA of the mail host, SPF (one record, RFC 7208 §4.6.4 limits, our IPs pass), DKIM
// (our key, RSA ≥ 2048, t=y, stale selectors, RFC 6376 §3.6.1), DMARC (RFC 7489 §6.3, with the
// none → quarantine → reject steps), MTA-STS (RFC 8461 §3.1) and TLS-RPT (RFC 8460 §3).
// Every failure names the record to publish. `resolve` must be uncached so a fix shows at once.
import { createPublicKey } from "node:crypto";
import net from "node:net";
import { isNoRecord } from "../dns/resolver.ts";
import type { ResolveFunction } from "../dns/resolver.ts";
import { dkimRecordName, dkimTxtRecord } from "../emailauth/dkim-keys.ts";
import type { DkimKey } from "../emailauth/dkim-keys.ts";
import type { DnsRecord } from "./records.ts";
import { checkSpf } from "./spf-check.ts";
import type { CheckResult, CheckStatus } from "./types.ts";

const norm = (n: string) => n.toLowerCase().replace(/\.$/, "");
const code = (err: unknown) => (err as NodeJS.ErrnoException).code ?? String(err);

type Lookup<T> = { ok: true; value: T } | { ok: false; none: true } | { ok: false; none: false; error: string };

async function lookup<T>(fn: () => Promise<T>): Promise<Lookup<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    return isNoRecord(err) ? { ok: false, none: true } : { ok: false, none: false, error: code(err) };
  }
}

/** `name TYPE value` as the fix text writes a record. */
export function recordText(r: Pick<DnsRecord, "name" | "type" | "value">): string {
  return `${r.name} ${r.type} ${r.type === "TXT" ? `"${r.value}"` : r.value}`;
}

function tags(txt: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of txt.split(";")) {
    const i = part.indexOf("=");
    if (i > 0) m.set(part.slice(0, i).trim().toLowerCase(), part.slice(i + 1).replace(/\s+/g, ""));
  }
  return m;
}

export interface DomainCheckInput {
  domain: string;
  mailHost: string;
  heloName: string;
  ips: string[];
  /** The records `freehold dns records` prints for the domain. */
  expected: DnsRecord[];
  /** Every DKIM key of the domain, retired ones too (for stale selectors). */
  dkimKeys: DkimKey[];
  /** SPF evaluation of one IP for the domain (mailauth's, through the same resolver). */
  spfResult?: (ip: string, domain: string) => Promise<string>;
}

export async function checkDomainRecords(resolve: ResolveFunction, inp: DomainCheckInput): Promise<CheckResult[]> {
  const d = norm(inp.domain);
  const out: CheckResult[] = [];
  const add = (id: string, status: CheckStatus, message: string, fix?: string, data?: Record<string, unknown>) =>
    out.push({ id: `dns.${id}.${d}`, status, message, ...(fix ? { fix } : {}), subject: d, group: "dns", ...(data ? { data } : {}) });

  // MX (RFC 5321 §5.1): the domain's mail must come to this host.
  const mxWant = inp.expected.find((r) => r.type === "MX")!;
  const mx = await lookup(() => resolve(d, "MX"));
  if (!mx.ok && !mx.none) add("mx", "unknown", `MX lookup for ${d} failed: ${mx.error}`);
  else if (!mx.ok || mx.value.length === 0) add("mx", "fail", `${d} has no MX record: mail for it goes nowhere`, `add ${recordText(mxWant)}`);
  else if (!mx.value.some((m) => norm(m.exchange) === norm(inp.mailHost))) {
    add("mx", "fail", `${d} MX points at ${mx.value.map((m) => norm(m.exchange)).join(", ")}, not this server ${norm(inp.mailHost)}`, `replace with ${recordText(mxWant)}`);
  } else add("mx", "ok", `MX ${norm(inp.mailHost)}`);

  // A/AAAA of the mail host (and HELO name): every public IP, nothing else.
  for (const host of [...new Set([norm(inp.mailHost), norm(inp.heloName)])]) {
    for (const type of ["A", "AAAA"] as const) {
      const want = inp.ips.filter((ip) => (type === "A" ? net.isIPv4(ip) : net.isIPv6(ip)));
      if (want.length === 0) continue;
      const got = await lookup(() => resolve(host, type));
      const id = `${type.toLowerCase()}.${host}`;
      const fix = want.map((ip) => `${host}. ${type} ${ip}`).join("; ");
      if (!got.ok && !got.none) add(id, "unknown", `${type} lookup for ${host} failed: ${got.error}`);
      else if (!got.ok) add(id, "fail", `${host} has no ${type} record`, `add ${fix}`);
      else if (want.some((ip) => !got.value.includes(ip)) || got.value.some((ip) => !want.includes(ip))) {
        add(id, "fail", `${host} ${type} is ${got.value.join(", ")}, expected ${want.join(", ")}`, `set ${fix}`);
      } else add(id, "ok", `${host} ${type} ${got.value.join(", ")}`);
    }
  }

  // SPF.
  const spfWant = inp.expected.find((r) => r.type === "TXT" && r.value.startsWith("v=spf1"))!;
  const spf = await checkSpf(resolve, d, spfWant.value);
  for (const r of spf) out.push({ ...r, id: `dns.${r.id}.${d}`, subject: d, group: "dns" });
  const spfOk = spf[0]?.status === "ok" || spf[0]?.status === "warn";
  if (inp.spfResult && spfOk) {
    for (const ip of inp.ips) {
      let result: string;
      try {
        result = await inp.spfResult(ip, d);
      } catch (err) {
        result = `error ${(err as Error).message}`;
      }
      if (result === "pass") add(`spf.pass.${ip}`, "ok", `SPF passes mail from ${ip}`);
      else if (result === "temperror") add(`spf.pass.${ip}`, "unknown", `SPF evaluation for ${ip} gave temperror`);
      else add(`spf.pass.${ip}`, "fail", `SPF gives "${result}" for mail from ${ip}, this server's own address: receivers will reject or junk it`, `replace with ${recordText(spfWant)}`);
    }
  }

  // DKIM.
  out.push(...(await checkDkim(resolve, d, inp.dkimKeys)));

  // DMARC.
  const dmarcWant = inp.expected.find((r) => r.name === `_dmarc.${d}.`)!;
  const dm = await lookup(() => resolve(`_dmarc.${d}`, "TXT"));
  const dmarcRecs = dm.ok ? dm.value.map((t) => t.join("")).filter((t) => /^v=DMARC1\s*(;|$)/i.test(t)) : [];
  if (!dm.ok && !dm.none) add("dmarc", "unknown", `TXT lookup for _dmarc.${d} failed: ${dm.error}`);
  else if (dmarcRecs.length === 0) add("dmarc", "fail", `${d} has no DMARC record: receivers such as Gmail and Yahoo reject bulk mail without one`, `add ${recordText(dmarcWant)}`);
  else if (dmarcRecs.length > 1) add("dmarc", "fail", `${d} has ${dmarcRecs.length} DMARC records; receivers then apply none (RFC 7489 §6.6.3)`, `keep only ${recordText(dmarcWant)}`);
  else {
    const p = (tags(dmarcRecs[0]).get("p") ?? "").toLowerCase();
    const next = (policy: string) => recordText({ ...dmarcWant, value: dmarcWant.value.replace(/p=none/, `p=${policy}`) });
    if (p === "none") add("dmarc", "ok", `DMARC p=none (monitoring only). Next step, once the reports show all your mail passes: ${next("quarantine")}`, undefined, { policy: p });
    else if (p === "quarantine") add("dmarc", "ok", `DMARC p=quarantine. Last step, once the reports stay clean: ${next("reject")}`, undefined, { policy: p });
    else if (p === "reject") add("dmarc", "ok", "DMARC p=reject (full protection)", undefined, { policy: p });
    else add("dmarc", "fail", `DMARC record has no valid p= tag: "${dmarcRecs[0]}"`, `replace with ${recordText(dmarcWant)}`);
  }

  // MTA-STS TXT (RFC 8461 §3.1): exactly one, with the id of the policy we serve.
  const stsWant = inp.expected.find((r) => r.name === `_mta-sts.${d}.`)!;
  const sts = await lookup(() => resolve(`_mta-sts.${d}`, "TXT"));
  const stsRecs = sts.ok ? sts.value.map((t) => t.join("")).filter((t) => /^v=STSv1\s*(;|$)/.test(t)) : [];
  if (!sts.ok && !sts.none) add("mta-sts", "unknown", `TXT lookup for _mta-sts.${d} failed: ${sts.error}`);
  else if (stsRecs.length === 0) add("mta-sts", "warn", `${d} has no MTA-STS record: senders may deliver without TLS`, `add ${recordText(stsWant)}`);
  else if (stsRecs.length > 1) add("mta-sts", "fail", `${d} has ${stsRecs.length} MTA-STS records; senders ignore them all (RFC 8461 §3.1)`, `keep only ${recordText(stsWant)}`);
  else if (tags(stsRecs[0]).get("id") !== tags(stsWant.value).get("id")) {
    add("mta-sts", "warn", `MTA-STS id is ${tags(stsRecs[0]).get("id")}, the current policy's is ${tags(stsWant.value).get("id")}: senders keep the old policy`, `replace with ${recordText(stsWant)}`);
  } else add("mta-sts", "ok", `MTA-STS ${stsRecs[0]}`);

  // TLS-RPT (RFC 8460 §3).
  const rptWant = inp.expected.find((r) => r.name === `_smtp._tls.${d}.`)!;
  const rpt = await lookup(() => resolve(`_smtp._tls.${d}`, "TXT"));
  const rptRecs = rpt.ok ? rpt.value.map((t) => t.join("")).filter((t) => /^v=TLSRPTv1\s*(;|$)/.test(t)) : [];
  if (!rpt.ok && !rpt.none) add("tls-rpt", "unknown", `TXT lookup for _smtp._tls.${d} failed: ${rpt.error}`);
  else if (rptRecs.length !== 1) add("tls-rpt", "warn", `${d} has ${rptRecs.length === 0 ? "no" : rptRecs.length} TLS-RPT record${rptRecs.length > 1 ? "s" : ""}: you will not hear about TLS failures`, `${rptRecs.length === 0 ? "add" : "keep only"} ${recordText(rptWant)}`);
  else add("tls-rpt", "ok", `TLS-RPT ${rptRecs[0]}`);
  return out;
}

/** RSA modulus bits of a p= value, or null when it is not an RSA SubjectPublicKeyInfo. */
export function rsaBits(p: string): number | null {
  try {
    const k = createPublicKey({ key: Buffer.from(p, "base64"), format: "der", type: "spki" });
    return k.asymmetricKeyType === "rsa" ? (k.asymmetricKeyDetails?.modulusLength ?? null) : null;
  } catch {
    return null;
  }
}

export async function checkDkim(resolve: ResolveFunction, domain: string, keys: DkimKey[]): Promise<CheckResult[]> {
  const d = norm(domain);
  const out: CheckResult[] = [];
  const add = (sel: string, status: CheckStatus, message: string, fix?: string) =>
    out.push({ id: `dns.dkim.${sel}.${d}`, status, message, ...(fix ? { fix } : {}), subject: d, group: "dns" });
  const live = keys.filter((k) => k.state !== "retired");
  const signing = keys.some((k) => k.state === "active");
  if (live.length === 0) {
    out.push({ id: `dns.dkim.${d}`, status: "fail", message: `${d} has no DKIM key: mail leaves unsigned`, fix: `freehold dkim rotate ${d}`, subject: d, group: "dns" });
  }
  for (const k of keys) {
    const name = dkimRecordName(k);
    const want = `${name}. TXT "${dkimTxtRecord(k)}"`;
    const got = await lookup(() => resolve(name, "TXT"));
    if (!got.ok && !got.none) {
      add(k.selector, "unknown", `TXT lookup for ${name} failed: ${got.error}`);
      continue;
    }
    const recs = got.ok ? got.value.map((t) => t.join("")) : [];
    if (k.state === "retired") {
      if (recs.length > 0) add(k.selector, "warn", `selector ${k.selector} is retired but still published`, `remove ${name}. TXT`);
      continue;
    }
    if (recs.length === 0) {
      if (k.state === "new" && !signing) add(k.selector, "fail", `DKIM selector ${k.selector} is not published yet, so mail from ${d} leaves unsigned`, `add ${want}, then run: freehold dkim check ${d}`);
      else if (k.state === "new") add(k.selector, "warn", `DKIM selector ${k.selector} (the next key) is not published yet`, `add ${want}`);
      else add(k.selector, "fail", `DKIM record ${name} is missing: receivers cannot verify mail signed with selector ${k.selector}`, `add ${want}`);
      continue;
    }
    const t = tags(recs[0]);
    if (recs.length > 1) add(k.selector, "fail", `${name} has ${recs.length} TXT records; verifiers may pick the wrong one`, `keep only ${want}`);
    else if ((t.get("p") ?? "") !== k.publicKey || (t.get("k") ?? "rsa") !== k.type) {
      add(k.selector, "fail", `the DKIM key in DNS at ${name} differs from ours: signatures with selector ${k.selector} fail`, `replace with ${want}`);
    } else if (k.type === "rsa" && (rsaBits(k.publicKey) ?? 0) < 2048) {
      add(k.selector, "fail", `DKIM key ${k.selector} is RSA ${rsaBits(k.publicKey)} bits, below 2048 (RFC 8301 §3.2)`, `freehold dkim rotate ${d}`);
    } else if ((t.get("t") ?? "").split(":").includes("y")) {
      add(k.selector, "warn", `DKIM record ${name} has t=y (testing): receivers may ignore failures`, `replace with ${want}`);
    } else if (k.state === "new") {
      add(k.selector, signing ? "ok" : "warn", signing ? `DKIM ${k.selector} (${k.type}, the next key) published and equal to our key` : `DKIM ${k.selector} (${k.type}) is published but does not sign yet`, signing ? undefined : `freehold dkim check ${d}`);
    } else add(k.selector, "ok", `DKIM ${k.selector} (${k.type}, ${k.state}) published and equal to our key`);
  }
  return out;
}
