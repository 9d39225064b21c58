// Every DNS record a domain needs, computed from plain inputs taken from the live configuration
// (pure: the service layer gathers the inputs, this file decides the records). A change in the
// inputs (a relay route, a rotated DKIM key, a new public IP) changes the output.
import { createHash } from "node:crypto";
import net from "node:net";
import { reverseName } from "../dns/resolver.ts";

export interface RecordInputs {
  domain: string;
  /** The MX host name (this server). */
  mailHost: string;
  /** The HELO/EHLO name used for outbound mail. */
  heloName: string;
  /** Public outbound/inbound IPs (from config). */
  ips: string[];
  /** DKIM records to publish (from dkim-keys recordsToPublish). */
  dkim: { name: string; text: string }[];
  /** SPF includes of relays whose routes serve this domain. */
  relayIncludes: string[];
  /** The domain whose mailbox receives DMARC aggregate reports. */
  reportDomain: string;
  /** MTA-STS policy text (RFC 8461 §3.2). */
  mtaStsPolicy?: string;
}

export interface DnsRecord {
  name: string;
  type: "MX" | "A" | "AAAA" | "TXT" | "SRV" | "CAA" | "PTR" | "CNAME";
  value: string;
  /** What the record is for, in plain words. */
  purpose: string;
}

const fq = (n: string) => (n.endsWith(".") ? n : `${n}.`);

/** The id= of the MTA-STS TXT record changes whenever the policy text changes (RFC 8461 §3.1). */
export function mtaStsId(policy: string): string {
  return createHash("sha256").update(policy).digest("hex").slice(0, 20);
}

/**
 * RFC 8461 §3.2: "version", "mode", one "mx" line per allowed MX pattern, "max_age" (seconds),
 * CRLF line ends. The text served (src/web/autoconfig/mta-sts.ts) is this one, so its TXT id
 * (mtaStsId) always names what is served.
 */
export function mtaStsPolicyText(mailHost: string | readonly string[], mode: "testing" | "enforce" | "none" = "enforce", maxAge = 604800): string {
  const mx = [...new Set(typeof mailHost === "string" ? [mailHost] : mailHost)];
  return `version: STSv1\r\nmode: ${mode}\r\n${mx.map((m) => `mx: ${m}\r\n`).join("")}max_age: ${maxAge}\r\n`;
}

export function spfRecord(ips: string[], includes: string[]): string {
  const mechs = ips.map((ip) => (net.isIPv6(ip) ? `ip6:${ip}` : `ip4:${ip}`));
  for (const inc of includes) mechs.push(`include:${inc}`);
  return ["v=spf1", ...mechs, "-all"].join(" ");
}

export function computeRecords(inp: RecordInputs): DnsRecord[] {
  const d = inp.domain;
  const out: DnsRecord[] = [];
  out.push({ name: fq(d), type: "MX", value: `10 ${fq(inp.mailHost)}`, purpose: "where other servers deliver mail for the domain" });
  for (const host of [...new Set([inp.mailHost, inp.heloName])]) {
    for (const ip of inp.ips) out.push({ name: fq(host), type: net.isIPv6(ip) ? "AAAA" : "A", value: ip, purpose: "address of the mail host" });
  }
  out.push({ name: fq(d), type: "TXT", value: spfRecord(inp.ips, inp.relayIncludes), purpose: "SPF: which servers may send for the domain (RFC 7208)" });
  for (const k of inp.dkim) out.push({ name: fq(k.name), type: "TXT", value: k.text, purpose: "DKIM public key (RFC 6376)" });
  out.push({ name: fq(`_dmarc.${d}`), type: "TXT", value: `v=DMARC1; p=none; rua=mailto:dmarc-reports@${inp.reportDomain}`, purpose: "DMARC policy, starting at p=none (RFC 7489)" });
  if (inp.reportDomain !== d) {
    out.push({ name: fq(`${d}._report._dmarc.${inp.reportDomain}`), type: "TXT", value: "v=DMARC1", purpose: "lets the report domain receive this domain's reports (RFC 7489 §7.1)" });
  }
  const policy = inp.mtaStsPolicy ?? mtaStsPolicyText(inp.mailHost);
  out.push({ name: fq(`_mta-sts.${d}`), type: "TXT", value: `v=STSv1; id=${mtaStsId(policy)}`, purpose: "MTA-STS: senders must use TLS (RFC 8461)" });
  out.push({ name: fq(`mta-sts.${d}`), type: "CNAME", value: fq(inp.mailHost), purpose: "serves the MTA-STS policy over HTTPS" });
  out.push({ name: fq(`_smtp._tls.${d}`), type: "TXT", value: `v=TLSRPTv1; rua=mailto:tls-reports@${inp.reportDomain}`, purpose: "TLS-RPT reports (RFC 8460)" });
  // RFC 6186 §3, RFC 8314 §5.1: implicit TLS preferred (lower priority number).
  out.push({ name: fq(`_submissions._tcp.${d}`), type: "SRV", value: `0 1 465 ${fq(inp.mailHost)}`, purpose: "mail clients find submission (implicit TLS)" });
  out.push({ name: fq(`_submission._tcp.${d}`), type: "SRV", value: `10 1 587 ${fq(inp.mailHost)}`, purpose: "mail clients find submission (STARTTLS)" });
  out.push({ name: fq(`_imaps._tcp.${d}`), type: "SRV", value: `0 1 993 ${fq(inp.mailHost)}`, purpose: "mail clients find IMAP (implicit TLS)" });
  out.push({ name: fq(`_imap._tcp.${d}`), type: "SRV", value: `10 1 143 ${fq(inp.mailHost)}`, purpose: "mail clients find IMAP (STARTTLS)" });
  // RFC 6764 §3 and §4: CardDAV/CalDAV over TLS on the https listener, and the context path.
  for (const svc of ["carddavs", "caldavs"]) {
    out.push({ name: fq(`_${svc}._tcp.${d}`), type: "SRV", value: `0 1 443 ${fq(inp.mailHost)}`, purpose: `contacts and calendar clients find ${svc === "carddavs" ? "CardDAV" : "CalDAV"} (RFC 6764)` });
    out.push({ name: fq(`_${svc}._tcp.${d}`), type: "TXT", value: "path=/dav/", purpose: `the ${svc === "carddavs" ? "CardDAV" : "CalDAV"} context path (RFC 6764 §4)` });
  }
  out.push({ name: fq(`autoconfig.${d}`), type: "CNAME", value: fq(inp.mailHost), purpose: "Thunderbird autoconfig" });
  out.push({ name: fq(`autodiscover.${d}`), type: "CNAME", value: fq(inp.mailHost), purpose: "Outlook autodiscover" });
  out.push({ name: fq(d), type: "CAA", value: '0 issue "letsencrypt.org"', purpose: "which CA may issue certificates (RFC 8659)" });
  for (const ip of inp.ips) out.push({ name: fq(reverseName(ip)), type: "PTR", value: fq(inp.heloName), purpose: "reverse DNS: set by the hosting provider, must equal the HELO name" });
  return out;
}

/** Quotes a TXT value as character-strings of at most 255 octets (RFC 1035 §3.3.14). */
export function zoneTxt(value: string): string {
  const bytes = Buffer.from(value, "utf8");
  const parts: string[] = [];
  for (let i = 0; i < bytes.length || i === 0; i += 255) parts.push(`"${bytes.subarray(i, i + 255).toString("latin1").replace(/(["\\])/g, "\\$1")}"`);
  return parts.join(" ");
}

/** A zone-file snippet (RFC 1035 §5). PTR records belong to the provider's zone: commented out. */
export function zoneSnippet(records: DnsRecord[], ttl = 3600): string {
  return records
    .map((r) => {
      const v = r.type === "TXT" ? zoneTxt(r.value) : r.value;
      const line = `${r.name} ${ttl} IN ${r.type} ${v}`;
      return r.type === "PTR" ? `; set by your hosting provider: ${line}` : line;
    })
    .join("\n") + "\n";
}
