// Hook for the HTTP API schema fuzzers (issue 13 §4, "the HTTP API schemas"): the HTTP listeners
// are being built in parallel. Add one Fuzzer per route schema here (src/fuzz/support.ts has the
// shape; a `fixture` may start the HTTP server on FUZZ_HOST); the registry, the CI test
// (src/fuzz/fuzz.test.ts), `npm run fuzz` and the soak rows pick them up from this list.
import type { Fuzzer } from "./support.ts";

export const HTTP_API_FUZZERS: Fuzzer[] = [];
