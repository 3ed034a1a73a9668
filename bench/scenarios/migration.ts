/**
 * Scenario `migration`: how fast our server notices a migration, and what migrations cost the
 * requests in flight. Our server (`bench/tools/server_entry.ts`, lab on) and a client process
 * (`bench/tools/migration_clients.ts`) holding N HTTP/3 connections through the lab's relay;
 * the client asks the lab to rebind M of them in turn (alternating port and address changes)
 * while request loops keep traffic on all of them. The lab measures each detection delay
 * exactly (rebinding → the tracker's migration event, both in the server process).
 * @module
 */

import { fmt, progress, table } from "../support/format.ts";
import type { BenchOptions } from "../support/options.ts";
import type { ScenarioResult } from "../support/scenario_result.ts";
import { percentile, round } from "../support/stats.ts";
import { type BenchEnv, denoRun, withFileLimit } from "../support/env.ts";

interface ClientResult {
  conns: number;
  connectFailures: number;
  migrateMs: number;
  requests: number;
  failed: number;
  loadRequests: number;
  alive: number;
  failures: string[];
  errors: string[];
  migrations: Rebinding[];
  quietMigrations: Rebinding[];
}

interface Rebinding {
  kind: string;
  detected: boolean;
  by: string | null;
  ms: number | null;
  outcome: string;
  clientOnNewPath: boolean;
  /** Rebinding → the relay passing the client's first datagram to the new mapping. */
  clientSentAfterMs: number | null;
}

/** Runs the migration measurement. */
export async function runMigration(env: BenchEnv, options: BenchOptions): Promise<ScenarioResult> {
  const conns = options.quick ? 100 : 1000;
  const migrations = options.quick ? 100 : 1000;
  const quietMigrations = options.quick ? 50 : 200;
  const token = crypto.randomUUID();
  const port = env.port();
  const labPort = env.port();
  progress(`migration: starting our server (lab on) and ${conns} connections through the lab`);
  const server = await env.startBenchServer(port, labPort, token, conns + 256);
  const clientCmd = denoRun("bench/tools/migration_clients.ts", [
    "--port",
    String(port),
    "--lab-port",
    String(labPort),
    "--ca",
    `${env.certDir}/ca.pem`,
    "--token",
    token,
    "--conns",
    String(conns),
    "--migrations",
    String(migrations),
    "--load",
    "4",
    "--quiet-migrations",
    String(quietMigrations),
  ]);
  const onLine = (line: string) => {
    if (line.startsWith("progress ")) progress(`migration: ${line.slice(9)}`);
  };
  // One UDP socket per client connection.
  const spawnCmd = await withFileLimit(clientCmd, conns + 256);
  const client = await env.spawn(
    "migration clients",
    spawnCmd,
    { line: "result " },
    600_000,
    {},
    onLine,
  );
  const line = await client.waitForLine("result ", 1000);
  await Promise.all([env.stop(client), env.stop(server)]);
  const r = JSON.parse(line.slice(line.indexOf("result ") + 7)) as ClientResult;
  const detected = r.migrations.filter((m) => m.detected && m.ms !== null);
  const delays = detected.map((m) => m.ms!);
  const stats = (values: number[]) => ({
    n: values.length,
    p50: round(percentile(values, 50), 2),
    p90: round(percentile(values, 90), 2),
    p99: round(percentile(values, 99), 2),
    max: round(Math.max(...values), 2),
  });
  const all = stats(delays);
  const byKind = Object.fromEntries(
    ["port", "address"].map((
      k,
    ) => [k, stats(detected.filter((m) => m.kind === k).map((m) => m.ms!))]),
  );
  // The delay in two parts: until the client's first datagram went out on the new mapping
  // (the client's next packet and the relay, which runs in the server process), and from there
  // to the tracker's event (quinn, the request and the tracker: the server's own reaction).
  const split = detected.filter((m) => m.clientSentAfterMs !== null && m.clientSentAfterMs >= 0);
  const clientPart = stats(split.map((m) => m.clientSentAfterMs!));
  const serverPart = stats(split.map((m) => Math.max(0, m.ms! - m.clientSentAfterMs!)));
  const quietDetected = r.quietMigrations.filter((m) => m.detected && m.ms !== null);
  const quiet = stats(quietDetected.map((m) => m.ms!));
  const quietUndetected = r.quietMigrations.length - quietDetected.length;
  const count = (f: (m: Rebinding) => boolean) => r.migrations.filter(f).length;
  const undetected = r.migrations.length - detected.length;
  const byWatcher = count((m) => m.by === "watcher");
  const errors = [
    ...r.errors.map((e) => `migration: ${e}`),
    ...(undetected + quietUndetected > 0
      ? [`migration: ${undetected + quietUndetected} rebindings not detected`]
      : []),
  ];
  return {
    name: "migration",
    title: `Migration with ${fmt(r.conns)} open connections`,
    rows: [
      {
        scenario: `detection delay p50 / p99, ${fmt(r.migrations.length)} rebindings, ` +
          `${fmt(r.conns)} conns (ms)`,
        ours: `${fmt(all.p50, 2)} / ${fmt(all.p99, 2)}`,
        peer: "—",
        ratio: "—",
        target: "p99 ≤ 5 ms",
        met: all.n > 0 ? all.p99 <= 5 && undetected === 0 : null,
      },
      {
        scenario: `detection delay p50 / p99, ${fmt(r.quietMigrations.length)} rebindings ` +
          "without background load (ms)",
        ours: `${fmt(quiet.p50, 2)} / ${fmt(quiet.p99, 2)}`,
        peer: "—",
        ratio: "—",
        target: "p99 ≤ 5 ms",
        met: quiet.n > 0 ? quiet.p99 <= 5 && quietUndetected === 0 : null,
      },
      {
        scenario: `failed requests during ${fmt(r.migrations.length)} migrations under load`,
        ours: `${fmt(r.failed)} of ${fmt(r.requests)}`,
        peer: "—",
        ratio: "—",
        target: "—",
        met: null,
      },
    ],
    markdown: [
      `${fmt(r.conns)} HTTP/3 connections through the lab relay (one UDP socket each, ` +
      `keep-alive 5 s), held by one client process; ${fmt(r.migrations.length)} rebindings, ` +
      "one at a time over the connections in turn, alternating port and address changes, each " +
      "asked for with `POST /api/simulate-migration` (`count: 1`, `interval_ms: 0`) on a " +
      "separate control connection. Meanwhile 4 request loops cycle `GET /healthz` over all " +
      "connections, and the connection being rebound starts a `GET /healthz` every 1 ms (at " +
      "most 32 outstanding), as a client streaming requests would; so its next packet after " +
      "the rebinding is a request, and the delay measures the server, not the client's " +
      "retransmission timer (responses in flight on the old mapping are lost, as behind a " +
      "real NAT). The lab reports each delay exactly (rebinding → tracker event, same " +
      "process).",
      "",
      `**Detection delay: p50 ${fmt(all.p50, 2)} ms, p90 ${fmt(all.p90, 2)} ms, p99 ` +
      `${fmt(all.p99, 2)} ms, max ${fmt(all.max, 2)} ms over ${fmt(all.n)} detected ` +
      `rebindings (${fmt(undetected)} undetected). Failed requests: ${fmt(r.failed)} of ` +
      `${fmt(r.requests)}; connections answering after all migrations: ${fmt(r.alive)} of ` +
      `${fmt(r.conns)}.**`,
      "",
      ...table(
        ["kind", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"],
        Object.entries(byKind).map((
          [k, s],
        ) => [k, s.n, fmt(s.p50, 2), fmt(s.p90, 2), fmt(s.p99, 2), fmt(s.max, 2)]),
      ),
      "",
      "The same delays in two parts, each its own distribution (so the percentiles do not add " +
      "up): from the rebinding until the relay passed the client's first datagram to the new " +
      "mapping (the client's next packet, and the relay, which runs in the server process), and " +
      "from there to the tracker's event (quinn, the request, the tracker):",
      "",
      ...table(
        ["part", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"],
        ([["client and relay", clientPart], ["server", serverPart]] as const).map((
          [k, v],
        ) => [k, v.n, fmt(v.p50, 2), fmt(v.p90, 2), fmt(v.p99, 2), fmt(v.max, 2)]),
      ),
      "",
      `Then ${fmt(r.quietMigrations.length)} more rebindings with the background loops ` +
      "stopped (only the rebound connection carries requests), to tell the server's own " +
      `reaction from contention with the load: **p50 ${fmt(quiet.p50, 2)} ms, p90 ` +
      `${fmt(quiet.p90, 2)} ms, p99 ${fmt(quiet.p99, 2)} ms, max ${fmt(quiet.max, 2)} ms** ` +
      `(${fmt(quietUndetected)} undetected). Failed requests cover both series; the counts ` +
      "below, the series under load.",
      "",
      `Detected by the request path ${fmt(count((m) => m.by === "request"))}, by the watcher ` +
      `${fmt(byWatcher)}; client sent on the new path after ${
        fmt(count((m) => m.clientOnNewPath))
      }; ` +
      `outcomes: ${
        Object.entries(Object.groupBy(r.migrations, (m) => m.outcome))
          .map(([k, v]) => `${k} ${v?.length ?? 0}`).join(", ")
      } (pending: the 1 s validation window was still open when the lab answered). ` +
      `${fmt(r.migrations.length)} migrations took ${fmt(r.migrateMs / 1000, 1)} s; ` +
      `${fmt(r.loadRequests)} of the requests came from the background loops.` +
      (r.failures.length > 0 ? ` First failures: ${r.failures.slice(0, 3).join("; ")}` : ""),
    ],
    commands: {
      server: env.benchServerCommand(port, labPort, "<token>").join(" "),
      clients: clientCmd.join(" ").replace(token, "<token>"),
    },
    data: {
      ...r,
      migrations: undefined,
      delays: { all, byKind, withoutBackgroundLoad: quiet, clientPart, serverPart },
      quietMigrations: undefined,
      quietDelaysMs: r.quietMigrations.map((m) => m.ms),
      undetected,
      detectedByWatcher: byWatcher,
      delaysMs: r.migrations.map((m) => m.ms),
      clientSentAfterMs: r.migrations.map((m) => m.clientSentAfterMs),
    },
    errors,
  };
}
