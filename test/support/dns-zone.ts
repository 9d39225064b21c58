// Zone files (RFC 1035 §5 master file format) from a JS description, for knot.ts.
//
//   { "test": { "@": { NS: ["ns.test."] }, "sender": { TXT: ["v=spf1 ip4:127.0.0.1 -all"] },
//               "sel._domainkey.sender": { TXT: [dkimRecord] }, "mx.sender": { A: ["127.0.0.1"] } } }
//
// Owner names are relative to the zone apex ("@" is the apex) unless they end with a dot;
// target names (MX, PTR, NS, CNAME) are always full names.

export interface RecordSet {
  A?: string[];
  AAAA?: string[];
  /** [preference, exchange] */
  MX?: Array<[number, string]>;
  /** Each entry is one TXT record: a string (split into 255-octet character-strings here) or its strings. */
  TXT?: Array<string | string[]>;
  PTR?: string[];
  CNAME?: string;
  NS?: string[];
}

/** Zone apex → owner → records. */
export type ZoneDescription = Record<string, Record<string, RecordSet>>;

function fqdn(name: string): string {
  return name.endsWith(".") ? name : `${name}.`;
}

/** A <character-string> (RFC 1035 §5.1): quoted, with \" \\ and \DDD for non-printables. */
function quoteString(bytes: Buffer): string {
  let out = '"';
  for (const b of bytes) {
    if (b === 0x22 || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
    else if (b < 0x20 || b > 0x7e) out += `\\${b.toString().padStart(3, "0")}`;
    else out += String.fromCharCode(b);
  }
  return `${out}"`;
}

/** Splits a TXT value into character-strings of at most 255 octets (RFC 1035 §3.3.14). */
export function txtStrings(value: string | string[]): string {
  const parts = Array.isArray(value) ? value.map((v) => Buffer.from(v, "utf8")) : chunk(Buffer.from(value, "utf8"), 255);
  if (parts.length === 0) parts.push(Buffer.alloc(0));
  return parts.map(quoteString).join(" ");
}

function chunk(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  if (out.length === 0) out.push(Buffer.alloc(0));
  return out;
}

export function renderZone(apex: string, owners: Record<string, RecordSet>, serial = 1): string {
  const origin = fqdn(apex);
  const lines = [
    `$ORIGIN ${origin}`,
    "$TTL 60",
    `@ SOA ns.${origin} hostmaster.${origin} ${serial} 3600 600 86400 60`,
  ];
  if (!owners["@"]?.NS) lines.push(`@ NS ns.${origin}`, `ns A 127.0.0.1`);
  for (const [owner, set] of Object.entries(owners)) {
    for (const a of set.A ?? []) lines.push(`${owner} A ${a}`);
    for (const a of set.AAAA ?? []) lines.push(`${owner} AAAA ${a}`);
    for (const [pref, host] of set.MX ?? []) lines.push(`${owner} MX ${pref} ${fqdn(host)}`);
    for (const t of set.TXT ?? []) lines.push(`${owner} TXT ${txtStrings(t)}`);
    for (const p of set.PTR ?? []) lines.push(`${owner} PTR ${fqdn(p)}`);
    for (const n of set.NS ?? []) lines.push(`${owner} NS ${fqdn(n)}`);
    if (set.CNAME) lines.push(`${owner} CNAME ${fqdn(set.CNAME)}`);
  }
  return `${lines.join("\n")}\n`;
}
