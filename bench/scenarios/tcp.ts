/**
 * Scenario `tcp`: what Hono and connection tracking cost over TCP. `h2load --h1` (HTTP/1.1 over
 * TLS, what our TCP listener speaks by default: HTTP/2 there is opt-in, see
 * `lib/server/tcp_listener.ts`) sends N GETs of `/healthz` over C keep-alive connections, one
 * request at a time each, to our TCP listener (the same port as HTTP/3) and to a bare
 * `Deno.serve` answering the same 15-byte JSON, in interleaved rounds. req/s is h2load's own.
 * @module
 */

import { parseH2load } from "../support/client_output.ts";
import { h2loadH1Command } from "../support/h2load.ts";
import { capture, sleep } from "../support/process.ts";
import { fmt, progress, table } from "../support/format.ts";
import type { BenchOptions } from "../support/options.ts";
import type { ScenarioResult } from "../support/scenario_result.ts";
import { interleave, median, medianOf, roundRatios } from "../support/stats.ts";
import { type BenchEnv, Restartable } from "../support/env.ts";

const RUN_LIMIT_MS = 120_000;
const CLIENTS = 10;
/** Requests in flight per connection: HTTP/1.1 without pipelining. */
const STREAMS = 1;

function h2loadCommand(port: number, requests: number): string[] {
  return h2loadH1Command(port, requests, CLIENTS);
}

/** Runs the TCP comparison. */
export async function runTcp(env: BenchEnv, options: BenchOptions): Promise<ScenarioResult> {
  const requests = options.quick ? 5000 : 20_000;
  const rounds = options.rounds;
  const errors: string[] = [];
  const port = env.port();
  const labPort = env.port();
  const barePort = env.port();
  progress("tcp: starting our server and the bare Deno.serve");
  const servers: Record<string, Restartable> = {
    ours: new Restartable(() => env.startOurs(port, labPort)),
    bare: new Restartable(() => env.startBare(barePort)),
  };
  const ports: Record<string, number> = { ours: port, bare: barePort };
  try {
    progress(
      `tcp: h2load ${requests} GETs, ${CLIENTS} connections × ${STREAMS} streams, ${rounds} rounds`,
    );
    const samples = await interleave(["ours", "bare"], rounds, async (target) => {
      await servers[target].ensure();
      const out = await capture(h2loadCommand(ports[target], requests), {}, RUN_LIMIT_MS);
      await sleep(300); // a crash at connection close shows by then
      const parsed = parseH2load(out.stdout);
      // A run counts when at least 90 % of its requests succeeded (h2load's req/s is over
      // the requests that completed); an incomplete run is still reported as a problem.
      const complete = out.code === 0 && parsed.succeeded === requests &&
        parsed.ok2xx === requests && out.stdout.includes("http/1.1");
      const ok = parsed.succeeded >= 0.9 * requests && parsed.ok2xx === parsed.succeeded;
      if (!complete) {
        errors.push(
          `tcp ${target}: exit ${out.code}, ${parsed.succeeded} succeeded, ${parsed.ok2xx} 2xx; ` +
            (out.stdout.match(/^requests: .*$/m)?.[0] ?? out.stdout.slice(-300)) +
            ` ${out.stderr.slice(0, 300)}`,
        );
      }
      const crashed = servers[target].died;
      return {
        value: Math.round(parsed.reqPerSec),
        ok,
        detail: { crashed, complete, succeeded: parsed.succeeded },
      };
    }, "req/s");
    for (const [name, server] of Object.entries(servers)) {
      await server.ensure(); // records a crash after the last run
      for (const crash of server.crashes) errors.push(`tcp: ${name} server crashed: ${crash}`);
    }
    const crashes = { ours: servers.ours.crashes, bare: servers.bare.crashes };
    const ratios = roundRatios(samples, "ours", "bare");
    const med = { ours: medianOf(samples, "ours"), bare: medianOf(samples, "bare") };
    const ratio = median(ratios);
    return {
      name: "tcp",
      title: "TCP: our HTTPS listener vs a bare Deno.serve (h2load, HTTP/1.1)",
      rows: [{
        scenario: `h2load --h1 ${fmt(requests)} GETs, ${CLIENTS} connections, TCP (req/s)`,
        ours: fmt(med.ours) +
          (crashes.ours.length > 0 ? ` (server crashed ${crashes.ours.length}×)` : ""),
        peer: `bare Deno.serve ${fmt(med.bare)}`,
        ratio: fmt(ratio, 2),
        target: "—",
        met: null,
      }],
      markdown: [
        `\`h2load --h1 -n ${requests} -c ${CLIENTS} -m ${STREAMS}\` against \`/healthz\` over ` +
        `HTTPS (HTTP/1.1, TLS 1.3, same certificate), ${rounds} interleaved rounds after one ` +
        "uncounted warm-up each. Ours is the whole app (Hono, the connection and security " +
        "headers, the tracker) on our TCP listener; the bare `Deno.serve` " +
        "(`bench/tools/bare_server.ts`) returns the same body and content type with nothing " +
        "else. The ratio is what Hono, tracking, `node:tls` and our HTTP/1.1 server " +
        "(`lib/server/h1_*.ts`; profile: `2026-11-28-tcp-profile.md`) leave of the runtime's " +
        "own HTTP/1.1 throughput (HTTP/2 is off on our TCP listener by default: a peer's GOAWAY " +
        "can abort Deno 2.9.6 in node:http2, denoland/deno#36788). " +
        "h2load runs on the same 2 cores. A run counts when ≥ 90 % of its requests succeeded " +
        "(h2load's req/s covers the completed ones); each server is started again after a " +
        "crash.",
        "",
        `**Median: ours ${fmt(med.ours)} req/s, bare Deno.serve ${fmt(med.bare)} req/s; ` +
        `median per-round ratio ours/bare ${fmt(ratio, 3)}.**`,
        "",
        ...table(
          ["round", "server", "req/s", "succeeded", "result", "server"],
          samples.map((s) => [
            s.round,
            s.target,
            fmt(s.value),
            fmt(s.detail?.succeeded as number),
            s.detail?.complete ? "ok" : s.ok ? "incomplete (counted)" : "FAILED",
            s.detail?.crashed ? "**crashed**" : "ran on",
          ]),
        ),
        "",
        `Per-round ratios ours/bare: ${ratios.join(", ")}`,
        "",
        ...(crashes.ours.length + crashes.bare.length > 0
          ? [
            `**Server crashes (each restarted before the next run): ours ${crashes.ours.length}, ` +
            `bare ${crashes.bare.length}.** Last line before each: ` +
            [...crashes.ours, ...crashes.bare].map((c) => `\`${c}\``).join("; "),
          ]
          : ["No server crashed."]),
      ],
      commands: {
        ours: env.ourServerCommand(port, labPort).join(" "),
        bare: env.bareServerCommand(barePort).join(" "),
        client: h2loadCommand(port, requests).join(" "),
      },
      data: {
        requests,
        clients: CLIENTS,
        streams: STREAMS,
        rounds,
        samples,
        ratios,
        median: med,
        medianRatio: ratio,
      },
      errors,
    };
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop(env)));
  }
}
