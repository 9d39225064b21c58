// Lazy loading of heavy dependencies (issue 14, memory). `freehold serve` runs every role in one
// process, but an idle server, or one whose listeners never need a dependency, should not pay for
// it: measured on Node 24 (RSS after a GC, over a bare node's 42 MiB), `mailauth` costs +47 MiB
// (its index also loads BIMI: undici, @postalsys/vmc, @peculiar/*), nodemailer's SMTP client
// +21 MiB, libmime +15 MiB, @peculiar/x509 +10 MiB. Each is CommonJS, so it can be required
// synchronously on first use; the type comes from a type-only import at the call site, which
// erases to nothing.
import { createRequire } from "node:module";

const requireHere = createRequire(import.meta.url);

/** A getter that requires `id` the first time it is called and returns the same module after. */
export function lazyRequire<T>(id: string): () => T {
  let mod: T | undefined;
  return () => (mod ??= requireHere(id) as T);
}
