// Which document a request is for is decided by its Host header (RFC 9110 §7.2) and path: the
// client-configuration hosts are sub-domains of the mail domain (DNS: records.ts adds autoconfig,
// autodiscover and mta-sts CNAMEs to this server). The name is lower-cased, its port and a final
// dot dropped; the domain left must be one this server serves, or the caller answers 404.
export type HostKind = "autoconfig" | "autodiscover" | "mta-sts" | "bare";

export interface HostTarget {
  kind: HostKind;
  /** The mail domain the request is about (not yet checked to be ours). */
  domain: string;
}

const PREFIXES: Array<[string, HostKind]> = [
  ["autoconfig.", "autoconfig"],
  ["autodiscover.", "autodiscover"],
  ["mta-sts.", "mta-sts"],
];

export function hostTarget(hostHeader: string | undefined): HostTarget | null {
  if (!hostHeader) return null;
  let h = hostHeader.trim().toLowerCase();
  // An IPv6 literal has no domain in it.
  if (h.startsWith("[")) return null;
  h = h.replace(/:\d+$/, "").replace(/\.$/, "");
  if (h.length === 0 || h.length > 253 || !/^[a-z0-9.-]+$/.test(h)) return null;
  for (const [p, kind] of PREFIXES) if (h.startsWith(p) && h.length > p.length) return { kind, domain: h.slice(p.length) };
  return { kind: "bare", domain: h };
}
