// A self-signed certificate for a fresh install and for dev mode, so TLS (STARTTLS, 465, 993)
// works from the first start. Real deployments replace the two files (or use ACME, later).
// ECDSA P-256 with SHA-256: small, fast, accepted by every TLS 1.2+ client we test with.
// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata API
// installed before it loads (ES modules evaluate in import order).
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import type { Clock } from "../clock.ts";
import { writeFileAtomic } from "./atomic-file.ts";

export interface SelfSignedOptions {
  hostname: string;
  /** Extra subjectAltNames: DNS names, or IP addresses (dev adds localhost and 127.0.0.1). */
  altNames?: string[];
  /** Validity in days from now. */
  days?: number;
  clock: Clock;
}

export interface PemPair {
  cert: string;
  key: string;
}

const DAY = 24 * 3600 * 1000;

// @peculiar/x509 is typed against the DOM's WebCrypto types; node:crypto's webcrypto is the same API.
type X509Params = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0];
type X509Crypto = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1];

/** Create a self-signed certificate and its private key, both PEM. */
export async function createSelfSigned(opts: SelfSignedOptions): Promise<PemPair> {
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const now = opts.clock.now();
  const names = [opts.hostname, ...(opts.altNames ?? [])].filter((n, i, all) => all.indexOf(n) === i);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString("hex").replace(/^[89a-f]/, "7"),
      name: [{ CN: [opts.hostname] }],
      // A little back-dated so clients with a slightly slow clock accept it.
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + (opts.days ?? 825) * DAY),
      signingAlgorithm: alg,
      keys: keys as unknown as X509Params["keys"],
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        // RFC 6125 §6.4.4: clients match the name against subjectAltName, not the CN.
        new x509.SubjectAlternativeNameExtension(
          names.map((n) => ({ type: isIp(n) ? ("ip" as const) : ("dns" as const), value: n })),
        ),
      ],
    },
    webcrypto as unknown as X509Crypto,
  );
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
  return { cert: cert.toString("pem") + "\n", key: toPem(pkcs8, "PRIVATE KEY") };
}

/**
 * Create a self-signed certificate and write it as `certPath` (0644) and `keyPath` (0600). Each
 * file is written to a temporary name and renamed, so a crash never leaves half a key.
 */
export async function writeSelfSigned(certPath: string, keyPath: string, opts: SelfSignedOptions): Promise<void> {
  const pair = await createSelfSigned(opts);
  await writeFileAtomic(keyPath, pair.key, 0o600);
  await writeFileAtomic(certPath, pair.cert, 0o644);
}

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

function isIp(s: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(s) || s.includes(":");
}
