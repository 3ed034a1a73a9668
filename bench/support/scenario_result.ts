/**
 * What a scenario hands back to `bench/run.ts`: lines of the summary table, its section of the
 * Markdown report, the command lines used and the raw figures for the JSON.
 * @module
 */

import type { ScenarioName } from "./options.ts";

/** One line of the summary table (README and results). */
export interface SummaryRow {
  /** What was measured. */
  scenario: string;
  /** Our figure, with its unit. */
  ours: string;
  /** The peer's figure, or "—". */
  peer: string;
  /** Median ratio (or difference) and what it compares, or "—". */
  ratio: string;
  /** The target, or "—". */
  target: string;
  /** Whether the target was met; null when there is none or nothing was measured. */
  met: boolean | null;
}

/** What a scenario hands back to the report. */
export interface ScenarioResult {
  /** Its `--only` name. */
  name: ScenarioName;
  /** Section title in the report. */
  title: string;
  /** Lines of the summary table. */
  rows: SummaryRow[];
  /** The section's Markdown (without its title). */
  markdown: string[];
  /** Command lines used, for the record. */
  commands: Record<string, string>;
  /** The raw figures, for the JSON. */
  data: unknown;
  /** What went wrong, if anything. */
  errors: string[];
  /** When it was measured (set by the task; a result kept from an earlier run keeps its own). */
  measuredAt?: string;
}
