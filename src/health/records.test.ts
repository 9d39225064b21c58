import { test } from "node:test";
import assert from "node:assert/strict";
import { computeRecords, mtaStsId, mtaStsPolicyText, zoneSnippet, zoneTxt } from "./records.ts";

const base = {
  domain: "example.test",
  mailHost: "mail.example.test",
  heloName: "mail.example.test",
  ips: ["192.0.2.10"],
  dkim: [{ name: "fh202612r._domainkey.example.test", text: `v=DKIM1; k=rsa; p=${"A".repeat(392)}` }],
  relayIncludes: [],
  reportDomain: "example.test",
};

test("records follow the inputs: relay include, DKIM rotation, public IP", () => {
  const spf = (r: ReturnType<typeof computeRecords>) => r.find((x) => x.type === "TXT" && x.value.startsWith("v=spf1"))!.value;
  assert.equal(spf(computeRecords(base)), "v=spf1 ip4:192.0.2.10 -all");
  assert.equal(spf(computeRecords({ ...base, relayIncludes: ["spf.relay.test"] })), "v=spf1 ip4:192.0.2.10 include:spf.relay.test -all");
  const moved = computeRecords({ ...base, ips: ["192.0.2.20", "2001:db8::5"] });
  assert.equal(spf(moved), "v=spf1 ip4:192.0.2.20 ip6:2001:db8::5 -all");
  assert.ok(moved.some((r) => r.type === "PTR" && r.name === "20.2.0.192.in-addr.arpa." && r.value === "mail.example.test."));
  assert.ok(moved.some((r) => r.type === "AAAA" && r.value === "2001:db8::5"));
  const rotated = computeRecords({ ...base, dkim: [...base.dkim, { name: "fh202701r._domainkey.example.test", text: "v=DKIM1; k=rsa; p=B" }] });
  assert.equal(rotated.filter((r) => r.name.includes("_domainkey")).length, 2);
});

test("DMARC authorisation record for another report domain (RFC 7489 §7.1); MTA-STS id follows the policy", () => {
  const r = computeRecords({ ...base, reportDomain: "freehold.test" });
  assert.ok(r.some((x) => x.name === "example.test._report._dmarc.freehold.test." && x.value === "v=DMARC1"));
  assert.notEqual(mtaStsId(mtaStsPolicyText("mail.example.test", "testing")), mtaStsId(mtaStsPolicyText("mail.example.test", "enforce")));
});

test("zone snippet splits TXT at 255 octets", () => {
  const t = zoneTxt("x".repeat(300));
  assert.equal(t, `"${"x".repeat(255)}" "${"x".repeat(45)}"`);
  const z = zoneSnippet(computeRecords(base));
  assert.match(z, /^example\.test\. 3600 IN MX 10 mail\.example\.test\.$/m);
  assert.match(z, /^; set by your hosting provider: 10\.2\.0\.192\.in-addr\.arpa\./m);
});

test("CardDAV and CalDAV: SRV and TXT path records (RFC 6764 §3, §4)", () => {
  const r = computeRecords(base);
  for (const svc of ["_carddavs._tcp.example.test.", "_caldavs._tcp.example.test."]) {
    assert.ok(r.some((x) => x.name === svc && x.type === "SRV" && x.value === "0 1 443 mail.example.test."), svc);
    assert.ok(r.some((x) => x.name === svc && x.type === "TXT" && x.value === "path=/dav/"), svc);
  }
});
