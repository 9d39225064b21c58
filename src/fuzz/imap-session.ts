import type { Fuzzer } from "./support.ts";
export const IMAP_SESSION_FUZZERS: Fuzzer[] = [];
