// IP helpers shared by the pregreet check and the connection limits.
import net from "node:net";

/** "::ffff:1.2.3.4" → "1.2.3.4"; anything else unchanged. */
export function unmapIPv4(ip: string): string {
  return ip.startsWith("::ffff:") && net.isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
}

export function isLoopbackIp(ip: string): boolean {
  const a = unmapIPv4(ip);
  return (net.isIPv4(a) && a.startsWith("127.")) || a === "::1";
}

/** Expands an IPv6 address to eight 16-bit groups. */
function ipv6Groups(ip: string): number[] {
  let head = ip;
  let tail: number[] = [];
  const v4 = ip.match(/^(.*:)(\d+\.\d+\.\d+\.\d+)$/);
  if (v4) {
    const b = v4[2].split(".").map(Number);
    tail = [(b[0] << 8) | b[1], (b[2] << 8) | b[3]];
    head = v4[1].endsWith("::") ? v4[1] : v4[1].slice(0, -1);
  }
  const [l, r] = head.includes("::") ? head.split("::") : [head, undefined];
  const left = l ? l.split(":").map((h) => parseInt(h, 16)) : [];
  const right = r ? r.split(":").map((h) => parseInt(h, 16)) : [];
  const fill = 8 - tail.length - left.length - right.length;
  return [...left, ...(r === undefined ? [] : new Array<number>(Math.max(0, fill)).fill(0)), ...right, ...tail];
}

/**
 * The key per-client limits count under: an IPv4 address, or an IPv6 /64 — one end site
 * usually gets a whole /64, so counting single IPv6 addresses would be no limit at all.
 */
export function clientGroup(ip: string): string {
  const a = unmapIPv4(ip);
  if (!net.isIPv6(a)) return a;
  const g = ipv6Groups(a);
  return `${g.slice(0, 4).map((x) => x.toString(16)).join(":")}::/64`;
}
