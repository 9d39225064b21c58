import { test } from "node:test";
import assert from "node:assert/strict";
import { plaintextLoginAllowed } from "./capabilities.ts";

test("plaintext login: TLS always; loopback peers when allowed (as Dovecot); remote peers never", () => {
  const ok = (remoteAddress: string, allowOnLoopback = true, tls = false): boolean => plaintextLoginAllowed({ tls, remoteAddress, allowOnLoopback });
  for (const a of ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"]) {
    assert.equal(ok(a), true, a);
    assert.equal(ok(a, false), false, `${a} with the switch off`);
  }
  for (const a of ["192.0.2.7", "10.0.0.1", "2001:db8::1", "::ffff:192.0.2.7", "::", "0.0.0.0", "128.0.0.1", "unknown", ""]) {
    assert.equal(ok(a), false, a);
    assert.equal(ok(a, true, true), true, `${a} over TLS`);
  }
  assert.equal(plaintextLoginAllowed({ tls: false, remoteAddress: "192.0.2.7", allowOnLoopback: false, testOverride: true }), true, "test-only override");
});
