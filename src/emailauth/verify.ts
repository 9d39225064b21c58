// Email authentication of an incoming message on mailauth 7 with our one Resolver: SPF for
// the MAIL FROM and the HELO identities (RFC 7208 §2.3, §2.4), DKIM (RFC 6376, RFC 8463),
// DMARC with the policy to apply (RFC 7489 §6.3/§6.6.4 pct, sp; RFC 9091 np), ARC
// (RFC 8617), the Authentication-Results field (RFC 8601), and what to do with the message.
import type * as Mailauth from "mailauth";
import { lazyRequire } from "../lazy.ts";

// Loaded on the first message, not at start (src/lazy.ts: +47 MiB).
const mailauth = lazyRequire<typeof Mailauth>("mailauth");
import net from "node:net";
import type { Readable } from "node:stream";
import type { ResolveFunction } from "../dns/resolver.ts";
import { formatAuthenticationResults, formatResinfo } from "./ar-format.ts";
import { samplePolicy } from "./dmarc-policy.ts";
import type { DmarcPolicy } from "./dmarc-policy.ts";
import { decideAction } from "./disposition.ts";
import type { Disposition } from "./disposition.ts";

export type SpfResult = "pass" | "fail" | "softfail" | "neutral" | "none" | "permerror" | "temperror";

export interface SpfOutcome {
  result: SpfResult;
  /** The domain checked (the MAIL FROM domain, or the HELO name). */
  domain: string;
  /** The identity checked, e.g. "user@example.com" or "postmaster@mx.example.com". */
  identity: string;
  comment: string;
  /** The domain owner's exp= text for a fail (RFC 7208 §6.2), third-party text. */
  explanation?: string;
}

export interface DkimOutcome {
  result: string; // pass fail neutral none policy temperror permerror
  /** d= of the signature, absent for "none". */
  domain?: string;
  selector?: string;
  algorithm?: string;
  /** Whether this signature aligns with the From domain for DMARC. */
  aligned: boolean;
  comment?: string;
}

export interface DmarcOutcome {
  result: "pass" | "fail" | "none" | "temperror" | "permerror";
  /** The RFC 5322.From domain. */
  fromDomain: string;
  /** Where the applied record was found (the From domain or its Organizational Domain). */
  policyDomain: string | null;
  /** Published tags, when a record was found. */
  p?: DmarcPolicy;
  sp?: DmarcPolicy;
  np?: DmarcPolicy;
  pct: number;
  testMode: boolean;
  /** p, sp or np as it applies to this From domain, after t=y. Null without a usable record. */
  policy: DmarcPolicy | null;
  /** Whether pct sampling selected this message. */
  selected: boolean;
  /** The policy to apply when the result is fail (after pct). Null without a usable record. */
  appliedPolicy: DmarcPolicy | null;
  spfAligned: string | null;
  dkimAligned: string | null;
  strictSpf: boolean;
  strictDkim: boolean;
  error?: string;
}

export interface ArcOutcome {
  result: string; // pass fail none
  comment?: string;
}

export interface VerifyInput {
  /** The message bytes as they will be stored (after the SMTP layer's dot-unstuffing). */
  message: Buffer | Readable;
  /** The client's IP address. */
  ip: string;
  /** The EHLO/HELO argument as the client sent it. */
  helo: string;
  /** The MAIL FROM address without angle brackets; "" for the null reverse-path. */
  mailFrom: string;
}

export interface VerifyOptions {
  /** Our Resolver's `resolve`. */
  resolve: ResolveFunction;
  /** RFC 8601 §2.5: our authserv-id, normally the MX host name. */
  authservId: string;
  /** Randomness for DMARC pct sampling, [0, 1). Default Math.random. */
  random?: () => number;
  /** Shortest RSA key accepted for DKIM/ARC (default 1024, RFC 8301 §3.2). */
  minBitLength?: number;
  /**
   * mailauth's strict mode: every check follows its RFC exactly (RFC 7208 syntax errors anywhere
   * in a record are permerror, rsa-sha1 is not a pass per RFC 8301, ARC-Seal tag syntax per
   * RFC 8617 §4.1.3, DMARC tag-list rules). Default true; the SPF and ARC suites pass in it.
   */
  strict?: boolean;
}

export interface AuthVerdict extends Disposition {
  spf: SpfOutcome;
  /** The HELO identity check; null when HELO is not a domain name (address literal, bad syntax). */
  spfHelo: SpfOutcome | null;
  dkim: DkimOutcome[];
  /** Null when DMARC could not be evaluated (no or several author domains); see dmarcSkipReason. */
  dmarc: DmarcOutcome | null;
  dmarcSkipReason?: string;
  arc: ArcOutcome;
  /** The whole "Authentication-Results: ...\r\n" field to prepend, with our authserv-id. */
  authenticationResults: string;
  /** The Received-SPF field mailauth builds (RFC 7208 §9.1), CRLF-terminated. */
  receivedSpf: string;
}

// Loose shapes of mailauth's results (it ships no precise types for these).
interface MaStatus {
  result?: string;
  comment?: string;
}
interface MaSpf {
  domain?: string;
  status?: MaStatus;
  explanation?: string;
  header?: string;
  "envelope-from"?: string;
}
interface MaDkimRow {
  signingDomain?: string;
  selector?: string;
  algo?: string;
  status?: MaStatus & { aligned?: string | false };
  info?: string;
}
interface MaDmarc {
  status?: MaStatus;
  domain?: string;
  policyDomain?: string | null;
  policy?: DmarcPolicy;
  p?: DmarcPolicy;
  sp?: DmarcPolicy;
  np?: DmarcPolicy;
  testMode?: boolean;
  rr?: string;
  error?: string;
  info?: string;
  alignment?: { spf?: { result?: string; strict?: boolean }; dkim?: { result?: string; strict?: boolean } };
}
interface MaArc {
  status?: MaStatus;
  info?: string;
}

/** A HELO argument that is a domain name we can check (RFC 7208 §2.3: not an address literal). */
function heloDomain(helo: string): string | null {
  const h = helo.trim().replace(/\.$/, "");
  if (h === "" || h.startsWith("[") || net.isIP(h) !== 0) return null;
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/.test(h)) return null;
  return h.toLowerCase();
}

function spfOutcome(r: MaSpf, identity: string): SpfOutcome {
  const out: SpfOutcome = {
    result: (r.status?.result ?? "temperror") as SpfResult,
    domain: r.domain ?? "",
    identity,
    comment: r.status?.comment ?? "",
  };
  if (r.explanation) out.explanation = r.explanation;
  return out;
}

export async function verifyMessage(input: VerifyInput, options: VerifyOptions): Promise<AuthVerdict> {
  const resolver = options.resolve as (name: string, type: string) => Promise<string[][] | string[]>;
  const mta = options.authservId;
  const strict = options.strict ?? true;
  const res = await mailauth().authenticate(input.message, {
    ip: input.ip,
    helo: input.helo,
    sender: input.mailFrom,
    mta,
    resolver,
    minBitLength: options.minBitLength,
    disableBimi: true,
    strict,
  });

  const helo = heloDomain(input.helo);
  const maSpf = res.spf as MaSpf;
  // RFC 7208 §2.4: with a null reverse-path the MAIL FROM identity is postmaster@HELO, which is
  // exactly the HELO check, so mailauth's single evaluation is both.
  const spf = spfOutcome(maSpf, input.mailFrom || `postmaster@${helo ?? input.helo}`);
  let spfHelo: SpfOutcome | null = null;
  if (helo !== null) {
    if (input.mailFrom === "") {
      spfHelo = spf;
    } else {
      // RFC 7208 §2.3: a separate check_host() for the HELO identity.
      const h = (await mailauth().spf({ ip: input.ip, helo, sender: "", mta, resolver, strict })) as MaSpf;
      spfHelo = spfOutcome(h, `postmaster@${helo}`);
    }
  }

  const dkimRows = ((res.dkim as { results?: MaDkimRow[] })?.results ?? []) as MaDkimRow[];
  const dkim: DkimOutcome[] = dkimRows.map((row) => {
    const o: DkimOutcome = { result: row.status?.result ?? "none", aligned: Boolean(row.status?.aligned) };
    if (row.signingDomain) o.domain = row.signingDomain;
    if (row.selector) o.selector = row.selector;
    if (row.algo) o.algorithm = row.algo;
    if (row.status?.comment) o.comment = row.status.comment;
    return o;
  });

  const random = options.random ?? Math.random;
  const maDmarc = (res.dmarc || null) as MaDmarc | null;
  let dmarc: DmarcOutcome | null = null;
  let dmarcInfo: string | null = null;
  if (maDmarc) {
    const sample = maDmarc.policy ? samplePolicy(maDmarc.policy, maDmarc.rr ?? "", Boolean(maDmarc.testMode), random) : null;
    dmarc = {
      result: (maDmarc.status?.result ?? "none") as DmarcOutcome["result"],
      fromDomain: ((maDmarc.status as { header?: { from?: string } })?.header?.from ?? maDmarc.domain ?? "").toLowerCase(),
      policyDomain: maDmarc.policyDomain ?? null,
      pct: sample?.pct ?? 100,
      testMode: Boolean(maDmarc.testMode),
      policy: sample?.policy ?? null,
      selected: sample?.selected ?? true,
      appliedPolicy: sample?.applied ?? null,
      spfAligned: maDmarc.alignment?.spf?.result ?? null,
      dkimAligned: maDmarc.alignment?.dkim?.result ?? null,
      strictSpf: Boolean(maDmarc.alignment?.spf?.strict),
      strictDkim: Boolean(maDmarc.alignment?.dkim?.strict),
    };
    if (maDmarc.p) dmarc.p = maDmarc.p;
    if (maDmarc.sp) dmarc.sp = maDmarc.sp;
    if (maDmarc.np) dmarc.np = maDmarc.np;
    if (maDmarc.error) dmarc.error = maDmarc.error;
    dmarcInfo = maDmarc.info ?? null;
    if (dmarcInfo && sample && sample.applied !== sample.policy) {
      // RFC 9989 §9.1 policy.dmarc is the policy evaluated for this message: after sampling.
      dmarcInfo = dmarcInfo.replace(`policy.dmarc=${sample.policy}`, `policy.dmarc=${sample.applied}`);
      dmarcInfo = dmarcInfo.replace(/^dmarc=(\S+) \(/, `dmarc=$1 (pct=${sample.pct} not selected; `);
    }
  }

  const maArc = (res.arc || null) as MaArc | null;
  const arc: ArcOutcome = { result: maArc?.status?.result ?? "none" };
  if (maArc?.status?.comment) arc.comment = maArc.status.comment;

  const resinfos: string[] = [];
  for (const row of dkimRows) if (row.info) resinfos.push(row.info);
  if (input.mailFrom !== "") {
    resinfos.push(formatResinfo("spf", spf.result, spf.comment || null, [["smtp.mailfrom", spf.identity]]));
  }
  if (spfHelo) resinfos.push(formatResinfo("spf", spfHelo.result, spfHelo.comment || null, [["smtp.helo", helo ?? ""]]));
  else if (input.mailFrom === "") resinfos.push(formatResinfo("spf", "none", "HELO is not a domain name", []));
  resinfos.push(maArc?.info ?? `arc=${arc.result}`);
  if (dmarcInfo) resinfos.push(dmarcInfo);

  const verdict: AuthVerdict = {
    spf,
    spfHelo,
    dkim,
    dmarc,
    arc,
    authenticationResults: formatAuthenticationResults(mta, resinfos),
    receivedSpf: maSpf.header ? `${maSpf.header}\r\n` : "",
    ...decideAction({ spf, dkim, dmarc }),
  };
  const skip = (res as { dmarcSkipReason?: string }).dmarcSkipReason;
  if (skip) verdict.dmarcSkipReason = skip;
  return verdict;
}
