// Loading the certificate and key named in the config into a TLS context for every listener.
// TLS 1.2 is the floor (RFC 8996 deprecates 1.0 and 1.1; RFC 8314 §4.1 asks for current TLS).
import { readFile } from "node:fs/promises";
import { X509Certificate } from "node:crypto";
import tls from "node:tls";

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
  const options: tls.SecureContextOptions = { cert, key, minVersion: "TLSv1.2" };
  let context: tls.SecureContext;
  try {
    context = tls.createSecureContext(options);
  } catch (err) {
    throw new TlsFilesError(`${keyPath}: key does not fit ${certPath} or is unreadable (${(err as Error).message})`);
  }
  return { context, options, subject: leaf.subject, notAfter: Date.parse(leaf.validTo) };
}

async function readOrExplain(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new TlsFilesError(`${file}: cannot read the TLS ${what}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
