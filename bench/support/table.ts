// Renders a case's result as a plain-text table: metric, Freehold, reference, and Freehold's
// advantage (×, >1 = Freehold better, whether the metric is a rate or a cost).
import { advantage, goalMet, goalText, type CaseResult, type Row } from "./case.ts";

function fmt(v: number | null): string {
  if (v === null) return "—";
  if (!Number.isFinite(v)) return String(v);
  const abs = Math.abs(v);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

export function renderTable(caseName: string, result: CaseResult): string {
  const header = ["metric", "unit", "freehold", result.reference, "freehold ×", "goal"];
  const lines: string[] = [];
  const body: string[][] = [];
  const sectionAt = new Map<number, string>();
  for (const section of result.sections) {
    sectionAt.set(body.length, section.title);
    for (const row of section.rows) body.push(cells(row));
  }
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const sep = widths.map((w) => "-".repeat(w)).join("-+-");
  lines.push(`== ${caseName} ==`);
  lines.push(header.map((h, i) => pad(h, widths[i], i >= 2 && i < 5)).join(" | "));
  lines.push(sep);
  body.forEach((r, idx) => {
    const title = sectionAt.get(idx);
    if (title !== undefined) lines.push(`[${title}]`);
    lines.push(r.map((c, i) => pad(c, widths[i], i >= 2 && i < 5)).join(" | "));
  });
  lines.push("freehold × = Freehold's advantage (>1: Freehold better; for costs such as latency, reference ÷ freehold). goal = the issue's goal for the line (issue 14 for speed and memory, 15 for spam, 16 for IMAP concurrency).");
  for (const n of result.notes) lines.push(`note: ${n}`);
  return lines.join("\n");
}

function cells(row: Row): string[] {
  const a = advantage(row);
  return [
    `${row.metric} (${row.better === "higher" ? "↑" : "↓"})`,
    row.unit,
    withRange(row.freehold, row.freeholdRange),
    withRange(row.reference, row.referenceRange),
    a === null ? "—" : `${a.toFixed(2)}×`,
    goalCell(row),
  ];
}

/** "≥ 3.5×: not met", "≤ 90 MiB: met"; empty for lines without a goal. */
function goalCell(row: Row): string {
  if (!row.goal) return "";
  const met = goalMet(row);
  return `${goalText(row)}: ${met === null ? "not measured" : met ? "met" : "not met"}`;
}

/** "12.3 (10.1–15.0)": a median and the range of the runs it came from. */
function withRange(v: number | null, r: [number, number] | null | undefined): string {
  if (v === null || !r) return fmt(v);
  return `${fmt(v)} (${fmt(r[0])}–${fmt(r[1])})`;
}
