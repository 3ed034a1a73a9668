/**
 * What `migrate` shows: a live progress line while it runs (on stderr) and the final table (on
 * stdout), both read from the {@link ConnectionReport}s the runs fill in.
 *
 * ```ts
 * const progress = new ProgressLine(reports, 10, { write, isTerminal: true });
 * // … runs …
 * progress.stop();
 * write(formatReportTable(reports, 10));
 * ```
 * @module
 */

import type { ConnectionReport } from "./lab_connection_run.ts";

/** Where the progress line goes and how. */
export interface ProgressSink {
  write(text: string): void;
  /** A terminal gets one line rewritten in place (`\r`); anything else gets a line now and then. */
  isTerminal: boolean;
}

/** How often the line is redrawn on a terminal, and written elsewhere. */
const TERMINAL_REDRAW_MS = 100;
const PLAIN_LINE_MS = 2_000;

/** The live progress line: requests ok/failed and migrations done/planned, over all connections. */
export class ProgressLine {
  readonly #reports: readonly ConnectionReport[];
  readonly #planned: number;
  readonly #sink: ProgressSink;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #started = performance.now();

  /** Starts drawing at once; `migrationsPerConnection` × connections is the total planned. */
  constructor(
    reports: readonly ConnectionReport[],
    migrationsPerConnection: number,
    sink: ProgressSink,
  ) {
    this.#reports = reports;
    this.#planned = migrationsPerConnection * reports.length;
    this.#sink = sink;
    this.#timer = setInterval(
      () => this.#draw(),
      sink.isTerminal ? TERMINAL_REDRAW_MS : PLAIN_LINE_MS,
    );
  }

  /** The current state in one line. */
  line(): string {
    let ok = 0;
    let failed = 0;
    let done = 0;
    for (const report of this.#reports) {
      ok += report.requestsOk;
      failed += report.requestsFailed;
      done += Math.min(
        Math.max(report.migrationsSeen, report.migrations.length),
        this.#planned / this.#reports.length,
      );
    }
    const seconds = ((performance.now() - this.#started) / 1000).toFixed(1);
    return `migrate: ${seconds} s, requests ${ok} ok, ${failed} failed, ` +
      `migrations ${done}/${this.#planned}`;
  }

  /** Stops drawing; a terminal's line is finished with its last state. */
  stop(): void {
    clearInterval(this.#timer);
    if (this.#sink.isTerminal) this.#sink.write(`\r${this.line()}\x1b[K\n`);
    else this.#sink.write(this.line() + "\n");
  }

  #draw(): void {
    if (this.#sink.isTerminal) this.#sink.write(`\r${this.line()}\x1b[K`);
    else this.#sink.write(this.line() + "\n");
  }
}

/**
 * The final table: per connection its id, how it was moved, requests ok/failed, and per
 * migration its index, kind, old → new address, whether it was detected, after how many ms,
 * and its outcome. Ends with one `result:` line.
 */
export function formatReportTable(
  reports: readonly ConnectionReport[],
  migrationsPerConnection: number,
): string {
  const out: string[] = [];
  for (const report of reports) {
    const detected = report.migrations.filter((m) => m.detected).length;
    const how = report.mode === "admin"
      ? "moved on admin request"
      : 'moved on its own "self" request';
    out.push(
      `connection ${report.position + 1}: ${report.connectionId ?? "(none)"} (${how}): ` +
        `requests ${report.requestsOk} ok, ${report.requestsFailed} failed; ` +
        `migrations ${detected}/${migrationsPerConnection} detected`,
    );
    if (report.error !== undefined) out.push(`  error: ${report.error}`);
    if (report.migrations.length > 0) {
      const rows = report.migrations.map((m) => [
        String(m.index),
        m.kind,
        `${m.old_addr} → ${m.new_addr}`,
        m.detected ? "yes" : "NO",
        m.detection_delay_ms === null ? "-" : m.detection_delay_ms.toFixed(1),
        m.outcome,
      ]);
      out.push(
        ...alignColumns(["#", "kind", "old → new", "detected", "delay ms", "outcome"], rows),
      );
    }
    out.push("");
  }
  const verdict = reportsPassed(reports, migrationsPerConnection) ? "OK" : "FAILED";
  const ok = sum(reports, (r) => r.requestsOk);
  const failed = sum(reports, (r) => r.requestsFailed);
  const detected = sum(reports, (r) => r.migrations.filter((m) => m.detected).length);
  out.push(
    `result: ${verdict}: ${reports.length} connection(s), requests ${ok} ok, ${failed} failed, ` +
      `migrations ${detected}/${migrationsPerConnection * reports.length} detected`,
  );
  return out.join("\n") + "\n";
}

/** True when nothing failed: no errors, no failed request, every planned migration detected. */
export function reportsPassed(
  reports: readonly ConnectionReport[],
  migrationsPerConnection: number,
): boolean {
  return reports.every((r) =>
    r.error === undefined && r.requestsFailed === 0 &&
    r.migrations.length >= migrationsPerConnection && r.migrations.every((m) => m.detected)
  );
}

/** Pads columns to their widest cell, numbers (delay, index) right-aligned; two-space indent. */
function alignColumns(header: string[], rows: string[][]): string[] {
  const rightAligned = new Set([0, 4]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const format = (cells: string[]) =>
    "  " +
    cells.map((cell, c) => rightAligned.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))
      .join("  ").trimEnd();
  return [format(header), ...rows.map(format)];
}

function sum(reports: readonly ConnectionReport[], of: (r: ConnectionReport) => number): number {
  return reports.reduce((total, r) => total + of(r), 0);
}
