/**
 * Parsers of what the benchmark clients print: `gtlsclient`'s response lines, the shell's
 * `times` and h2load's summary. Pure functions, tested in `bench_helpers_test.ts`.
 * @module
 */

/** The `:status` of every response `gtlsclient` printed, and the fields of the first. */
export function parseGtlsResponses(output: string): { statuses: string[]; firstFields: string[] } {
  const statuses = [...output.matchAll(/^http: stream 0x[0-9a-f]+ \[:status: (\d+)\]$/gm)]
    .map((m) => m[1]);
  const firstFields = [...output.matchAll(/^http: stream 0x0 \[(.+)\]$/gm)].map((m) => m[1]);
  return { statuses, firstFields };
}

/** Children's user + system seconds from the second line of `times`. */
export function childCpuSeconds(timesOutput: string): number {
  const line = timesOutput.trim().split("\n").at(-1) ?? "";
  const parts = [...line.matchAll(/(\d+)m([\d.]+)s/g)];
  if (parts.length < 2) return NaN;
  return parts.slice(0, 2).reduce((sum, m) => sum + Number(m[1]) * 60 + Number(m[2]), 0);
}

/** h2load's req/s, succeeded count and 2xx count from its output. */
export function parseH2load(
  output: string,
): { reqPerSec: number; succeeded: number; ok2xx: number } {
  const rate = output.match(/finished in [\d.]+m?s, ([\d.]+) req\/s/);
  const done = output.match(/requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded/);
  const codes = output.match(/status codes: (\d+) 2xx/);
  return {
    reqPerSec: Number(rate?.[1] ?? NaN),
    succeeded: Number(done?.[1] ?? NaN),
    ok2xx: Number(codes?.[1] ?? NaN),
  };
}
