// Connects with net.connect({ host: NAME, lookup: resolver.lookup }) in a child process and
// returns what the server sent. The loopback guard refuses net.connect to any host *name*
// before lookup runs, so this part runs in a child without the guard; the names used resolve
// to 127.0.0.1 by construction (our DNS server on loopback answers them).
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

const resolverUrl = new URL("../../src/dns/resolver.ts", import.meta.url).href;
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

export function connectViaResolver(dnsServer: string, host: string, port: number): Promise<string> {
  const script = `
    import net from "node:net";
    import { createResolver } from ${JSON.stringify(resolverUrl)};
    const r = createResolver({ servers: [${JSON.stringify(dnsServer)}], timeoutMs: 1000, tries: 1 });
    const sock = net.connect({ host: ${JSON.stringify(host)}, port: ${port}, lookup: r.lookup });
    let data = "";
    sock.on("data", (d) => (data += d));
    sock.on("end", () => process.stdout.write(data));
    sock.on("error", (e) => { process.stderr.write(String(e)); process.exit(1); });
  `;
  return new Promise((res, rej) => {
    execFile(process.execPath, ["--input-type=module", "-e", script], { cwd: repoRoot, timeout: 10_000 }, (err, stdout, stderr) =>
      err ? rej(new Error(`${err.message}\n${stderr}`)) : res(stdout),
    );
  });
}
