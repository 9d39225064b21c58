import { test } from "node:test";
import assert from "node:assert/strict";
import { discoverPublicIps, isPublicIp, publicIpsYaml } from "./public-ips.ts";

test("public IPs: private, loopback, link-local, CGNAT, ULA and documentation ranges left out", () => {
  for (const ip of ["10.1.2.3", "172.16.0.1", "192.168.1.1", "127.0.0.1", "169.254.1.1", "100.64.0.1", "192.0.2.1", "::1", "fe80::1", "fd00::1", "2001:db8::1"]) assert.equal(isPublicIp(ip), false, ip);
  for (const ip of ["8.8.8.8", "185.1.2.3", "2a01:4f8::1"]) assert.equal(isPublicIp(ip), true, ip);
  const info = (address: string, internal = false) => ({ address, internal, family: address.includes(":") ? "IPv6" : "IPv4", netmask: "", mac: "", cidr: null }) as never;
  assert.deepEqual(discoverPublicIps({ lo: [info("127.0.0.1", true)], eth0: [info("2a01:4f8::1"), info("185.1.2.3"), info("10.0.0.5")], eth1: [info("185.1.2.3")] }), ["185.1.2.3", "2a01:4f8::1"]);
  assert.equal(publicIpsYaml([]), "");
  assert.match(publicIpsYaml(["185.1.2.3"]), /^server:\n.*\n  publicIps: \["185\.1\.2\.3"\]$/);
});
