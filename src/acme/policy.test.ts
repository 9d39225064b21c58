import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { BACKOFF_MAX_MS, BACKOFF_MIN_MS, RATE_LIMIT_MIN_MS, backoffMs, certificateNames, groupNames, renewAt } from "./policy.ts";

const DAY = 86_400_000;

describe("acme renewal policy", () => {
  it("renews when a third of the lifetime is left, up to 10% earlier with jitter", () => {
    const cert = { notBefore: 0, notAfter: 90 * DAY };
    assert.equal(renewAt(cert, 1 / 3, 0), 60 * DAY);
    assert.equal(renewAt(cert, 1 / 3, 1), 51 * DAY);
    const mid = renewAt(cert, 1 / 3, 0.5);
    assert.ok(mid < 60 * DAY && mid > 51 * DAY);
    // Short-lived certificates (6 days) follow the same fraction.
    assert.equal(renewAt({ notBefore: 0, notAfter: 6 * DAY }, 1 / 3, 0), 4 * DAY);
  });

  it("backs off exponentially from 5 minutes to 12 hours, longer after a rate limit or a Retry-After", () => {
    assert.equal(backoffMs(1, 0.5), BACKOFF_MIN_MS);
    assert.equal(backoffMs(2, 0.5), 2 * BACKOFF_MIN_MS);
    assert.equal(backoffMs(3, 0.5), 4 * BACKOFF_MIN_MS);
    assert.equal(backoffMs(30, 0.5), BACKOFF_MAX_MS);
    assert.ok(backoffMs(30, 1) <= BACKOFF_MAX_MS);
    assert.ok(backoffMs(1, 0) >= 0.8 * BACKOFF_MIN_MS && backoffMs(1, 1) <= 1.2 * BACKOFF_MIN_MS);
    assert.equal(backoffMs(1, 0.5, { rateLimited: true }), RATE_LIMIT_MIN_MS);
    assert.equal(backoffMs(1, 0.5, { retryAfterMs: 3 * 3600_000 }), 3 * 3600_000);
    assert.equal(backoffMs(1, 0.5, { retryAfterMs: 2 * DAY }), 2 * DAY);
  });

  it("names: the mail host first, then mta-sts. and autoconfig. of each domain, no duplicates, groups of 100", () => {
    assert.deepEqual(certificateNames("MX.Example.com", ["example.com", "b.test"]), ["mx.example.com", "mta-sts.example.com", "autoconfig.example.com", "mta-sts.b.test", "autoconfig.b.test"]);
    assert.deepEqual(certificateNames("mta-sts.a.test", ["a.test"]), ["mta-sts.a.test", "autoconfig.a.test"]);
    const many = certificateNames("mx.a.test", Array.from({ length: 60 }, (_, i) => `d${i}.test`));
    const groups = groupNames(many);
    assert.deepEqual(groups.map((g) => g.length), [100, 21]);
    assert.equal(groups[0]![0], "mx.a.test");
  });
});
