// A throwaway P-256 CA and leaves it signed, with an Authority Key Identifier (what ARI's certID,
// RFC 9773 §4.1, is built from), made by openssl in `dir`. Used by src/acme's ARI tests.
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Writes ca.pem/ca.key and NAME.pem/NAME.key per entry of `serials` (name → openssl serial); returns the leaves' PEM by name. */
export async function makeTestCerts(dir: string, host: string, caName: string, serials: Record<string, string>): Promise<Record<string, string>> {
  const openssl = (...args: string[]) => run("openssl", args, { cwd: dir });
  await openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-subj", `/CN=${caName}`, "-days", "30");
  await writeFile(path.join(dir, "ext.cnf"), `authorityKeyIdentifier=keyid:always\nsubjectAltName=DNS:${host}\n`);
  const certs: Record<string, string> = {};
  for (const [name, serial] of Object.entries(serials)) {
    await openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${host}`);
    await openssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", serial, "-days", "10", "-extfile", "ext.cnf", "-out", `${name}.pem`);
    certs[name] = await readFile(path.join(dir, `${name}.pem`), "utf8");
  }
  return certs;
}
