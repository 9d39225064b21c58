// A throwaway self-signed certificate (ECDSA P-256) for the reference servers' TLS listeners.
import fs from "node:fs/promises";
import path from "node:path";
import { run } from "../../test/support/peer-util.ts";

export async function selfSignedCert(dir: string, cn: string): Promise<{ certFile: string; keyFile: string }> {
  const certFile = path.join(dir, `${cn}.cert.pem`);
  const keyFile = path.join(dir, `${cn}.key.pem`);
  const r = await run("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
    "-subj", `/CN=${cn}`, "-keyout", keyFile, "-out", certFile,
  ]);
  if (r.code !== 0) throw new Error(`openssl: ${r.stderr}`);
  // Read by the daemons' unprivileged processes; a benchmark key guards nothing.
  await fs.chmod(keyFile, 0o644);
  return { certFile, keyFile };
}
