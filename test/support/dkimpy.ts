// dkimpy (Debian's python3-dkim) as an independent DKIM/ARC verifier for tests, through its
// Python API: the `dkimverify` command cannot be pointed at a DNS server on loopback, so a
// `dnsfunc` answers from the TXT records the test publishes.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";

/** Debian's Python (where python3-dkim is installed), not a pyenv one on PATH. */
export const DEBIAN_PYTHON = "/usr/bin/python3";

/** Python prelude: `zone` from argv[1] (name → TXT text) and a dkimpy `dnsfunc` over it. */
export const DNSFUNC_PRELUDE = String.raw`
import sys, json, dkim
zone = json.loads(sys.argv[1])
def dnsfunc(name, timeout=5):
    n = name.decode() if isinstance(name, bytes) else name
    rec = zone.get(n.rstrip(".").lower())
    return rec.encode() if rec is not None else None
`;

const VERIFY_ALL = DNSFUNC_PRELUDE + String.raw`
msg = sys.stdin.buffer.read()
d = dkim.DKIM(msg)
n = len([h for h in d.headers if h[0].lower() == b"dkim-signature"])
out = []
for i in range(n):
    try:
        out.append(bool(d.verify(idx=i, dnsfunc=dnsfunc)))
    except Exception as e:
        out.append("error: " + str(e))
print(json.dumps(out))
`;

/** dkimpy's verdict on every DKIM-Signature of `message`, top first (true, false or "error: …"). */
export function dkimpyVerifyAll(message: Buffer, zone: Record<string, string>): (boolean | string)[] {
  const r = spawnSync(DEBIAN_PYTHON, ["-c", VERIFY_ALL, JSON.stringify(zone)], { input: message });
  assert.equal(r.status, 0, r.stderr.toString());
  return JSON.parse(r.stdout.toString()) as (boolean | string)[];
}
