import { describe, it } from "node:test";
import assert from "node:assert/strict";
import tls from "node:tls";
import { addHttp01, addTlsAlpn01, http01Answer, removeHttp01, removeTlsAlpn01, selectAlpn, takeAlpnContext } from "./challenges.ts";

describe("acme challenge tables", () => {
  it("HTTP-01: answers pending base64url tokens only", () => {
    addHttp01("tok_en-1", "tok_en-1.thumb");
    assert.equal(http01Answer("tok_en-1"), "tok_en-1.thumb");
    assert.equal(http01Answer("../etc/passwd"), undefined);
    assert.equal(http01Answer(""), undefined);
    removeHttp01("tok_en-1");
    assert.equal(http01Answer("tok_en-1"), undefined);
  });

  it("TLS-ALPN-01: the challenge context only for acme-tls/1 with a pending name, consumed by the SNI step", () => {
    const ctx = tls.createSecureContext({});
    addTlsAlpn01("MX.Example.test", ctx);
    // Ordinary clients: http/1.1, no challenge context.
    assert.equal(selectAlpn("mx.example.test", ["h2", "http/1.1"]), "http/1.1");
    assert.equal(takeAlpnContext("mx.example.test"), undefined);
    // acme-tls/1 for another name: refused (no protocol).
    assert.equal(selectAlpn("other.test", ["acme-tls/1"]), undefined);
    assert.equal(takeAlpnContext("other.test"), undefined);
    // The validator.
    assert.equal(selectAlpn("mx.example.test.", ["acme-tls/1"]), "acme-tls/1");
    assert.equal(takeAlpnContext("mx.example.test"), ctx);
    assert.equal(takeAlpnContext("mx.example.test"), undefined, "one handshake, one use");
    removeTlsAlpn01("mx.example.test");
    assert.equal(selectAlpn("mx.example.test", ["acme-tls/1"]), undefined);
  });
});
