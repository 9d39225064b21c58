// Renders soak rows as one plain-text table a person reads at a glance.
import type { SoakRow } from "./case.ts";

export function renderSoakTable(rows: SoakRow[], title = "soak"): string {
  const header = ["area", "case", "tried", "figure", "result", "detail"];
  const body = rows.map((r) => [r.area, r.case, String(r.tried), r.figure, r.pass ? "pass" : "FAIL", r.detail ?? ""]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 2 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(" | ").trimEnd();
  const failed = rows.filter((r) => !r.pass).length;
  return [
    `== ${title} ==`,
    line(header),
    widths.map((w) => "-".repeat(w)).join("-+-"),
    ...body.map(line),
    `${rows.length} rows, ${rows.length - failed} pass, ${failed} fail`,
  ].join("\n");
}
