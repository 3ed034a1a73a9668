/**
 * Scenario `one`: requests on one connection. ngtcp2's `gtlsclient` sends N GETs of a 15-byte
 * JSON body over one QUIC connection, to our server (`main.ts` as shipped) and to Caddy, in
 * interleaved pairs; req/s = N / wall clock from spawning the client to its exit.
 * @module
 */

import { capture, timedRun } from "../support/process.ts";
import {
  type BenchOptions,
  fmt,
  interleave,
  median,
  medianOf,
  pairRatios,
  progress,
  type ScenarioResult,
  table,
} from "../support/common.ts";
import { type BenchEnv, BODY } from "../support/env.ts";

const RUN_LIMIT_MS = 120_000;

/** gtlsclient sending `requests` GETs of `path` on one connection. */
export function gtlsCommand(
  port: number,
  requests: number,
  quiet: boolean,
  path = "/healthz",
): string[] {
  return [
    "gtlsclient",
    ...(quiet ? ["-q"] : []),
    "--exit-on-all-streams-close",
    "-n",
    String(requests),
    `--max-streams-bidi=${requests}`,
    "127.0.0.1",
    String(port),
    `https://localhost:${port}${path}`,
  ];
}

/**
 * A small non-quiet run: every response must be `:status: 200` with our body. Returns the
 * first response's fields, or an error.
 */
export async function checkResponses(port: number): Promise<{ fields: string[]; error?: string }> {
  const n = 3;
  const out = await capture(gtlsCommand(port, n, false), {}, 30_000);
  const text = out.stdout + out.stderr;
  const statuses = [...text.matchAll(/^http: stream 0x[0-9a-f]+ \[:status: (\d+)\]$/gm)];
  const ok = statuses.filter((m) => m[1] === "200").length;
  const fields = [...text.matchAll(/^http: stream 0x0 \[(.+)\]$/gm)].map((m) => m[1]);
  const bodies = text.split(BODY).length - 1;
  if (out.code !== 0 || ok !== n || statuses.length !== n || bodies < n) {
    return {
      fields,
      error: `check run on port ${port}: exit ${out.code}, ${ok}/${n} ":status: 200" ` +
        `(${statuses.length} statuses), ${bodies} bodies`,
    };
  }
  return { fields };
}

/** Runs the one-connection comparison. */
export async function runOne(env: BenchEnv, options: BenchOptions): Promise<ScenarioResult> {
  const { pairs, requests } = options;
  const errors: string[] = [];
  const port = env.port();
  const caddyPort = env.port();
  const labPort = env.port();
  progress(`one: starting our server and Caddy`);
  const ours = await env.startOurs(port, labPort);
  const caddy = await env.startCaddy(caddyPort);
  const ports: Record<string, number> = { ours: port, caddy: caddyPort };
  const responseFields: Record<string, string[]> = {};
  try {
    for (const [target, p] of Object.entries(ports)) {
      const check = await checkResponses(p);
      responseFields[target] = check.fields;
      if (check.error) throw new Error(`one: ${target}: ${check.error}`);
    }
    progress(`one: ${requests} GETs on one connection, ${pairs} pairs`);
    const samples = await interleave(["ours", "caddy"], pairs, async (target) => {
      const run = await timedRun(gtlsCommand(ports[target], requests, true), RUN_LIMIT_MS);
      const ok = run.code === 0 && run.stderr.trim() === "";
      if (!ok) errors.push(`one ${target}: exit ${run.code} ${run.stderr.slice(0, 300)}`);
      return {
        value: Math.round(requests / (run.ms / 1000)),
        ok,
        detail: { ms: Math.round(run.ms * 10) / 10, code: run.code },
      };
    }, "req/s");
    const ratios = pairRatios(samples, "ours", "caddy");
    const med = { ours: medianOf(samples, "ours"), caddy: medianOf(samples, "caddy") };
    const ratio = median(ratios);
    return {
      name: "one",
      title: "Requests on one connection (HTTP/3, ours vs Caddy)",
      rows: [{
        scenario: `${fmt(requests)} GETs on 1 connection (req/s)`,
        ours: fmt(med.ours),
        peer: `Caddy ${fmt(med.caddy)}`,
        ratio: fmt(ratio, 2),
        target: "≥ 1.0× Caddy",
        met: Number.isFinite(ratio) ? ratio >= 1 : null,
      }],
      markdown: [
        `${fmt(requests)} GETs of a 15-byte JSON body on one QUIC connection per run ` +
        `(\`gtlsclient -n ${requests}\`), ${pairs} interleaved pairs after one uncounted ` +
        "warm-up each. req/s = requests / wall clock from spawning gtlsclient to its exit.",
        "",
        `**Median: ours ${fmt(med.ours)} req/s, Caddy ${fmt(med.caddy)} req/s; median ` +
        `per-pair ratio ours/Caddy ${fmt(ratio, 3)}.**`,
        "",
        ...table(
          ["pair", "server", "ms", "req/s", "result"],
          samples.map((
            s,
          ) => [
            s.pair,
            s.target,
            fmt(s.detail?.ms as number, 1),
            fmt(s.value),
            s.ok ? "ok" : "FAILED",
          ]),
        ),
        "",
        `Per-pair ratios ours/Caddy: ${ratios.join(", ")}`,
        "",
        `Response fields, ours: ${responseFields.ours.join("; ")}`,
        "",
        `Response fields, Caddy: ${responseFields.caddy.join("; ")}`,
      ],
      commands: {
        ours: env.ourServerCommand(port, labPort).join(" "),
        caddy: env.caddyCommand().join(" "),
        client: gtlsCommand(port, requests, true).join(" "),
      },
      data: { requests, pairs, samples, ratios, median: med, medianRatio: ratio, responseFields },
      errors,
    };
  } finally {
    await Promise.all([env.stop(ours), env.stop(caddy)]);
  }
}
