// The server's public IP addresses, found on its interfaces (for `freehold init` and dev setup,
// written to `server.publicIps`). Addresses that cannot be reached from the Internet are left out:
// loopback, RFC 1918 private, RFC 6598 shared (CGNAT), RFC 3927 / RFC 4291 link-local, RFC 4193
// unique-local, and the RFC 5737 / RFC 3849 documentation ranges.
import os from "node:os";
import net from "node:net";

const v4Blocks = new net.BlockList();
for (const [a, p] of [["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12], ["192.168.0.0", 16], ["192.0.2.0", 24], ["198.51.100.0", 24], ["203.0.113.0", 24], ["198.18.0.0", 15], ["224.0.0.0", 3]] as const) {
  v4Blocks.addSubnet(a, p, "ipv4");
}
const v6Blocks = new net.BlockList();
for (const [a, p] of [["::", 127], ["fe80::", 10], ["fc00::", 7], ["2001:db8::", 32], ["ff00::", 8], ["::ffff:0:0", 96], ["64:ff9b::", 96]] as const) {
  v6Blocks.addSubnet(a, p, "ipv6");
}

/** True for an address other Internet hosts can reach us at (not private, loopback, link-local…). */
export function isPublicIp(ip: string): boolean {
  if (net.isIPv4(ip)) return !v4Blocks.check(ip, "ipv4");
  if (net.isIPv6(ip)) return !v6Blocks.check(ip, "ipv6");
  return false;
}

/** The public addresses of this host's interfaces, IPv4 first, without duplicates. */
export function discoverPublicIps(interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces()): string[] {
  const found = new Set<string>();
  for (const list of Object.values(interfaces)) {
    for (const i of list ?? []) if (!i.internal && isPublicIp(i.address)) found.add(i.address);
  }
  return [...found].sort((a, b) => Number(net.isIPv6(a)) - Number(net.isIPv6(b)));
}

/** The YAML block `freehold init` writes (empty when nothing public was found). */
export function publicIpsYaml(ips: string[]): string {
  if (ips.length === 0) return "";
  return ["server:", "  # Found on this host's interfaces; edit if the server is behind NAT.", `  publicIps: [${ips.map((ip) => JSON.stringify(ip)).join(", ")}]`].join("\n");
}
