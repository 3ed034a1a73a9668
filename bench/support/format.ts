/**
 * How the benchmark task writes for people: progress lines on stderr (with the time since the
 * task started), numbers with separators, Markdown tables and error messages.
 * @module
 */

const started = performance.now();

/** Prints a progress line on stderr, with the time since the task started. */
export function progress(message: string): void {
  const s = ((performance.now() - started) / 1000).toFixed(1).padStart(6);
  console.error(`[${s} s] ${message}`);
}

/** A number for people: thousands separators, at most `digits` decimals, "n/a" if not finite. */
export function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: digits }) : "n/a";
}

/** Markdown table lines from a header and rows of cells. */
export function table(header: string[], rows: (string | number)[][]): string[] {
  const line = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)];
}

/** The message of anything thrown. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
