// Loading the certificate and key named in the config into a TLS context for every listener.
// TLS 1.2 is the floor (RFC 8996 deprecates 1.0 and 1.1; RFC 8314 §4.1 asks for current TLS).
// Hardening (issue 13 §5, docs/security.md "TLS"):
// - ciphers: TLS 1.3's AEAD suites, and for TLS 1.2 only ECDHE (forward secrecy) with AES-GCM or
//   ChaCha20-Poly1305 (RFC 7525 §4.2 / RFC 9325 §4.2 recommendations); no CBC, no static RSA key
//   exchange, no DHE (weak or unchecked groups), no SHA-1 MACs, no 3DES/RC4/NULL/EXPORT.
// - renegotiation: off (SSL_OP_NO_RENEGOTIATION; TLS 1.3 has none), so a client cannot make us
//   redo handshakes (CVE-2011-1473 style CPU exhaustion, RFC 9325 §3.5).
// - the server's cipher order wins (SSL_OP_CIPHER_SERVER_PREFERENCE).
import { readFile } from "node:fs/promises";
import { X509Certificate, constants } from "node:crypto";
import tls from "node:tls";

/** TLS 1.2 suites allowed (OpenSSL names); TLS 1.3 suites are OpenSSL's defaults (all AEAD). */
export const TLS12_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
];
export const TLS13_CIPHERS = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"];

/** The settings every Freehold TLS context gets besides its certificate. */
export const HARDENED_TLS_OPTIONS: tls.SecureContextOptions = {
  minVersion: "TLSv1.2",
  ciphers: [...TLS13_CIPHERS, ...TLS12_CIPHERS].join(":"),
  honorCipherOrder: true,
  secureOptions: constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_CIPHER_SERVER_PREFERENCE,
};

export interface LoadedTls {
  /**
   * For `new tls.TLSSocket(socket, { isServer: true, secureContext })` (STARTTLS and implicit
   * TLS alike). Note: `tls.createServer` ignores a `secureContext` option and would serve no
   * certificate; give it `options` instead.
   */
  context: tls.SecureContext;
  /** The same settings as options, for `tls.createServer(options)`. */
  options: tls.SecureContextOptions;
  /** Subject of the leaf certificate, for the startup log. */
  subject: string;
  /** Expiry of the leaf certificate, ms since the epoch. */
  notAfter: number;
  /** Issuer of the leaf certificate, one line ("CN=..., O=..."), for the status page. */
  issuer?: string;
  /** DNS names of the leaf (subjectAltName, else the subject's CN), for the status page. */
  names?: string[];
}

/** The DNS names a certificate is for: its subjectAltName DNS entries, else its CN (RFC 6125 §6.4.4). */
export function certificateNames(leaf: X509Certificate): string[] {
  const san = (leaf.subjectAltName ?? "").split(/,\s*/).filter((e) => e.startsWith("DNS:")).map((e) => e.slice(4));
  if (san.length > 0) return san;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(leaf.subject);
  return cn ? [cn[1]] : [];
}

export class TlsFilesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TlsFilesError";
  }
}

/** Read PEM files and build a SecureContext (minVersion TLSv1.2). Errors name the file at fault. */
export async function loadTlsContext(certPath: string, keyPath: string): Promise<LoadedTls> {
  const cert = await readOrExplain(certPath, "certificate");
  const key = await readOrExplain(keyPath, "private key");
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (err) {
    throw new TlsFilesError(`${certPath}: not a PEM certificate (${(err as Error).message})`);
  }
  const options: tls.SecureContextOptions = { ...HARDENED_TLS_OPTIONS, cert, key };
  let context: tls.SecureContext;
  try {
    context = tls.createSecureContext(options);
  } catch (err) {
    throw new TlsFilesError(`${keyPath}: key does not fit ${certPath} or is unreadable (${(err as Error).message})`);
  }
  return { context, options, subject: leaf.subject, notAfter: Date.parse(leaf.validTo), issuer: leaf.issuer.replace(/\n/g, ", "), names: certificateNames(leaf) };
}

async function readOrExplain(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new TlsFilesError(`${file}: cannot read the TLS ${what}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
