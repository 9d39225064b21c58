// The soak battery's contract (issue 13). Each file in soak/cases/ exports `soakCases`: a list of
// cases, each run in "short" mode by its CI test (test/hardening/<area>.test.ts) and in "long" mode
// by `npm run soak`, which prints every row of every case in one table.
//
// A case returns one or more rows: what was tried, how many times, the figure that matters
// (latency, peak RSS, relayed/guessed/lost counts) and whether it passed. A case never throws for
// a failed expectation: it returns pass=false with a detail, so the table shows every failure.
export type SoakMode = "short" | "long";

export interface SoakRow {
  /** Area of the battery: "abuse", "flood", "fault", "fuzz", "tls". */
  area: string;
  /** What was tried, in a few words: "open relay: % hack on mx". */
  case: string;
  /** How many attempts/inputs/connections/kills. */
  tried: number;
  /** The figure that matters, already formatted with its unit: "relayed 0", "p99 12 ms", "peak RSS 180 MiB". */
  figure: string;
  pass: boolean;
  /** Why it failed, or a short remark. */
  detail?: string;
}

export interface SoakContext {
  mode: SoakMode;
  /** A fresh temporary directory the case may use; removed afterwards. */
  tmpDir: string;
  log: (msg: string) => void;
}

export interface SoakCase {
  area: string;
  name: string;
  run(ctx: SoakContext): Promise<SoakRow[]>;
}

/** Case helper for an expectation that holds or not. */
export function row(area: string, what: string, tried: number, figure: string, pass: boolean, detail?: string): SoakRow {
  return { area, case: what, tried, figure, pass, detail };
}
