import type { Fuzzer } from "./support.ts";
export const DNS_FUZZERS: Fuzzer[] = [];
