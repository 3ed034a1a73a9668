/**
 * Fast tests of the `cluster` scenario's pure helpers: `/proc/<pid>/stat` parsing and process
 * trees (`proc_stat.ts`), the orchestrator's summary, Prometheus text, per-round differences and
 * CPU per event (`cluster_figures.ts`), how many client addresses part 1 uses and its root check
 * (`cluster_vs_one.ts`). Nothing here spawns a process or opens a socket.
 */

import { strict as assert } from "node:assert";
import { descendantsOf, parseProcStat } from "./proc_stat.ts";
import {
  metricValue,
  microsPer,
  parseClusterSummary,
  roundDifferences,
  signed,
} from "./cluster_figures.ts";
import type { Sample } from "./stats.ts";
import { cannotBuildFleet, clientNamespaceCount } from "./cluster_vs_one.ts";

Deno.test("parseProcStat reads state, ppid and utime + stime after a command name with spaces", () => {
  // 52 fields as the kernel writes them; the name holds a space and a parenthesis.
  // Fields 5 onwards; the kernel's field n is rest[n - 5].
  const rest = Array.from({ length: 48 }, (_, i) => String(i + 100));
  rest[9] = "250"; // utime, field 14
  rest[10] = "70"; // stime, field 15
  const line = `4242 (deno (main) x) S 17 ${rest.join(" ")}\n`;
  assert.deepEqual(parseProcStat(line), { state: "S", ppid: 17, cpuTicks: 320 });
  assert.equal(parseProcStat("no parenthesis here"), undefined);
  assert.equal(parseProcStat("1 (x) S 0 1 2"), undefined, "too few fields");
});

Deno.test("descendantsOf walks children and grandchildren, not siblings, and survives a cycle", () => {
  const parents = new Map([
    [10, 1], // the orchestrator
    [11, 10], // node1
    [12, 10], // nginx master
    [13, 12], // nginx worker
    [20, 1], // an unrelated process
    [30, 31], // a cycle, as a table read while pids are reused might hold
    [31, 30],
  ]);
  assert.deepEqual(descendantsOf(10, parents), [11, 12, 13]);
  assert.deepEqual(descendantsOf(13, parents), []);
  assert.deepEqual(descendantsOf(30, parents), [31]);
});

Deno.test("parseClusterSummary reads the ready line, each node's pid and Redis", () => {
  const lines = [
    "[node1] 🚀 QUIC connection-migration server on https://127.0.0.61:4000/",
    "✅ Cluster ready: 2 node(s) behind https://127.0.0.1:4100/",
    "   Balancer (nginx: UDP for HTTP/3, TCP for HTTPS): https://127.0.0.1:4100/ forwarding from 127.0.0.60",
    "   node1: https://127.0.0.61:4000/ (lab https://127.0.0.61:4001/) pid 501",
    "   node2: https://127.0.0.62:4000/ (lab https://127.0.0.62:4002/) pid 502",
    "   Redis: redis://127.0.0.1:6400 (started here)",
    "   Ctrl-C stops everything.",
  ];
  assert.deepEqual(parseClusterSummary(lines), {
    nodeCount: 2,
    nodes: [
      { name: "node1", url: "https://127.0.0.61:4000/", pid: 501 },
      { name: "node2", url: "https://127.0.0.62:4000/", pid: 502 },
    ],
    redisUrl: "redis://127.0.0.1:6400",
  });
  const none = parseClusterSummary(["[node1] starting"]);
  assert.ok(Number.isNaN(none.nodeCount));
  assert.deepEqual(none.nodes, []);
});

Deno.test("metricValue sums the samples whose labels match, by whole name", () => {
  const text = [
    "# HELP quic_connections_total Connections accepted, by protocol.",
    "# TYPE quic_connections_total counter",
    'quic_connections_total{protocol="h3"} 120',
    'quic_connections_total{protocol="tcp"} 3',
    'quic_connections_total_extra{protocol="h3"} 999',
    'cluster_events_written_total{node="a \\"b\\""} 240',
    "quic_migrations_pending 0",
  ].join("\n");
  assert.equal(metricValue(text, "quic_connections_total", { protocol: "h3" }), 120);
  assert.equal(metricValue(text, "quic_connections_total"), 123);
  assert.equal(metricValue(text, "cluster_events_written_total"), 240);
  assert.equal(metricValue(text, "quic_migrations_pending"), 0);
  assert.ok(Number.isNaN(metricValue(text, "cluster_events_queued")));
  assert.ok(Number.isNaN(metricValue(text, "quic_connections_total", { protocol: "h2" })));
});

Deno.test("roundDifferences pairs by round and skips failed runs; microsPer scales to µs", () => {
  const samples: Sample[] = [
    { round: 1, target: "redis", value: 900, ok: true },
    { round: 1, target: "plain", value: 700, ok: true },
    { round: 2, target: "redis", value: 950, ok: true },
    { round: 2, target: "plain", value: 1, ok: false },
    { round: 3, target: "redis", value: 800.26, ok: true },
    { round: 3, target: "plain", value: 750, ok: true },
  ];
  assert.deepEqual(roundDifferences(samples, "redis", "plain"), [200, 50.3]);
  assert.equal(microsPer(0.5, 1000), 500);
  assert.ok(Number.isNaN(microsPer(0.5, 0)));
});

Deno.test("signed shows the sign of a difference once", () => {
  assert.equal(signed(12.54), "+12.5");
  assert.equal(signed(-25), "-25");
  assert.equal(signed(0.01), "0");
  assert.equal(signed(NaN), "n/a");
});

Deno.test("clientNamespaceCount: enough addresses for every node, never more than clients", () => {
  assert.equal(clientNamespaceCount(3, 100), 24);
  assert.equal(clientNamespaceCount(1, 100), 16);
  assert.equal(clientNamespaceCount(8, 100), 48);
  assert.equal(clientNamespaceCount(32, 100), 48, "bounded");
  assert.equal(clientNamespaceCount(3, 20), 20, "one address per client at most");
  assert.equal(clientNamespaceCount(3, 0), 1);
  // With 3 nodes the chance that the hash leaves one without clients stays below 1 in 1,000.
  const k = clientNamespaceCount(3, 100);
  assert.ok(3 * (2 / 3) ** k < 1e-3, `${k} addresses`);
});

Deno.test("cannotBuildFleet: one line without root, nothing as root", () => {
  assert.equal(cannotBuildFleet(0), undefined);
  const line = cannotBuildFleet(1000);
  assert.ok(line !== undefined && !line.includes("\n") && line.includes("needs root"), line);
});
