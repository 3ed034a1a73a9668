import { strict as assert } from "node:assert";
import type { ConnectionInfo, MigrationEvent } from "../tracker/types.ts";
import { buildReport, formatReport, type PerformedEvent } from "./report.ts";

const T0 = Date.parse("2026-01-01T00:00:00Z");
const WIFI = "198.18.5.101";
const CELL = "198.18.5.102";
const CLIENT = "198.19.5.2:40000";

function event(
  index: number,
  kind: PerformedEvent["kind"],
  before: string,
  after: string | undefined,
  replied = true,
): PerformedEvent {
  return {
    index,
    kind,
    atMs: 1000 * (index + 1),
    wallTimeMs: T0 + 1000 * (index + 1),
    from: before.startsWith(WIFI) ? "wifi" : "cellular",
    to: (after ?? before).startsWith(WIFI) ? "wifi" : "cellular",
    flows: [{ client: CLIENT, before, ...(after === undefined ? {} : { after }), replied }],
  };
}

function migration(
  old_addr: string,
  new_addr: string,
  atMs: number,
  outcome: MigrationEvent["outcome"] = "validated",
): MigrationEvent {
  const sameHost = old_addr.split(":")[0] === new_addr.split(":")[0];
  return {
    timestamp: new Date(T0 + atMs).toISOString(),
    old_addr,
    new_addr,
    kind: sameHost ? "port_change" : "address_change",
    detected_by: "watcher",
    detection_window_ms: 50,
    validated: outcome === "validated",
    outcome,
  };
}

function connection(events: MigrationEvent[], state: "open" | "closed" = "open", endMs = 60_000) {
  return {
    connection_id: "c0ffee0000000001",
    protocol: "h3",
    state,
    remote_addr: events.at(-1)?.new_addr ?? `${WIFI}:1000`,
    local_addr: "127.0.0.1:9443",
    server_name: "localhost",
    start_time: new Date(T0).toISOString(),
    last_seen: new Date(T0 + endMs).toISOString(),
    request_count: 1,
    bytes_in: 0,
    bytes_out: 0,
    migration_count: events.length,
    migration_events: events,
    migration_events_dropped: 0,
    close_reason: null,
  } satisfies ConnectionInfo;
}

/** Three rebindings and two switches, as the upload test runs them. */
const EVENTS: PerformedEvent[] = [
  event(0, "rebind", `${WIFI}:1000`, `${WIFI}:1001`),
  event(1, "switch", `${WIFI}:1001`, `${CELL}:2000`),
  event(2, "rebind", `${CELL}:2000`, `${CELL}:2001`),
  event(3, "switch", `${CELL}:2001`, `${WIFI}:1002`),
  event(4, "rebind", `${WIFI}:1002`, `${WIFI}:1003`),
];
const SEEN = EVENTS.map((e) => migration(e.flows[0].before, e.flows[0].after!, e.atMs + 60));

Deno.test("report: every change seen once with the right kind and outcome passes", () => {
  const report = buildReport({
    events: EVENTS,
    connections: [connection(SEEN)],
    clientExitCode: 0,
    validationWindowMs: 1000,
  });
  assert.equal(report.exitCode, 0);
  assert.deepEqual(report.events.map((e) => e.flows[0].verdict), Array(5).fill("seen"));
  assert.deepEqual(report.events.map((e) => e.flows[0].expectedKind), [
    "port_change",
    "address_change",
    "port_change",
    "address_change",
    "port_change",
  ]);
  assert.equal(report.unexpected.length, 0);
  const text = formatReport(report);
  assert.match(text, /netlab: PASS: 5 of 5 network change\(s\) that carried traffic seen/);
  assert.match(text, /#2 \+2\.000s switch \(wifi → cellular\)/);
  assert.match(text, /address_change 198\.18\.5\.101:1001 → 198\.18\.5\.102:2000 .*60 ms after/);
});

Deno.test("report: a missed change, a duplicate and an extra migration each fail", () => {
  const missed = buildReport({
    events: EVENTS,
    connections: [connection(SEEN.filter((_, i) => i !== 2))],
    clientExitCode: 0,
    validationWindowMs: 1000,
  });
  assert.equal(missed.exitCode, 1);
  assert.equal(missed.events[2].flows[0].verdict, "missed");
  assert.match(
    formatReport(missed),
    /✗ not seen by the server \(expected port_change, validated\)/,
  );

  const twice = buildReport({
    events: EVENTS,
    connections: [connection([...SEEN, SEEN[0]])],
    clientExitCode: 0,
    validationWindowMs: 1000,
  });
  assert.equal(twice.events[0].flows[0].verdict, "seen_more_than_once");
  assert.equal(twice.exitCode, 1);

  const extra = buildReport({
    events: EVENTS,
    connections: [connection([...SEEN, migration(`${WIFI}:1003`, `${WIFI}:9999`, 9000)])],
    clientExitCode: 0,
    validationWindowMs: 1000,
  });
  assert.equal(extra.unexpected.length, 1);
  assert.equal(extra.exitCode, 1);
  assert.match(formatReport(extra), /✗ unexpected: port_change 198\.18\.5\.101:1003 → /);
});

Deno.test("report: a wrong kind or an outcome that disagrees fails", () => {
  const wrongKind = [...SEEN];
  wrongKind[1] = { ...SEEN[1], kind: "port_change" };
  const kind = buildReport({
    events: EVENTS,
    connections: [connection(wrongKind)],
    clientExitCode: 0,
    validationWindowMs: 1000,
  });
  assert.equal(kind.events[1].flows[0].verdict, "wrong_kind");
  assert.equal(kind.exitCode, 1);

  // The server answered on the new path and the connection lived on: only validated agrees.
  const lost = [...SEEN];
  lost[3] = { ...SEEN[3], outcome: "connection_lost", validated: false };
  const outcome = buildReport({
    events: EVENTS,
    connections: [connection(lost)],
    clientExitCode: 0,
    validationWindowMs: 1000,
  });
  assert.equal(outcome.events[3].flows[0].verdict, "outcome_disagrees");
  assert.equal(outcome.exitCode, 1);
});

Deno.test("report: connection_lost agrees when the connection closed inside the window", () => {
  const last = [...SEEN];
  last[4] = { ...SEEN[4], outcome: "connection_lost", validated: false };
  const closedAt = EVENTS[4].atMs + 60 + 500;
  const report = buildReport({
    events: EVENTS,
    connections: [connection(last, "closed", closedAt)],
    clientExitCode: 0,
    validationWindowMs: 1000,
  });
  assert.equal(report.events[4].flows[0].verdict, "seen");
  assert.deepEqual(report.events[4].flows[0].acceptableOutcomes, ["validated", "connection_lost"]);
  assert.equal(report.exitCode, 0);
});

Deno.test("report: no answer on the new path expects a migration that did not validate", () => {
  const events = [event(0, "rebind", `${WIFI}:1000`, `${WIFI}:1001`, false)];
  const validated = buildReport({
    events,
    connections: [connection([migration(`${WIFI}:1000`, `${WIFI}:1001`, 1060)])],
    clientExitCode: 0,
    validationWindowMs: 1000,
  });
  assert.equal(validated.events[0].flows[0].verdict, "outcome_disagrees");
  const lost = buildReport({
    events,
    connections: [connection([migration(`${WIFI}:1000`, `${WIFI}:1001`, 1060, "connection_lost")])],
    clientExitCode: 0,
    validationWindowMs: 1000,
  });
  assert.equal(lost.exitCode, 0);
});

Deno.test("report: a client that sent nothing afterwards is reported so, not invented", () => {
  const report = buildReport({
    events: [event(0, "rebind", `${WIFI}:1000`, undefined, false)],
    connections: [connection([])],
    clientExitCode: 0,
    validationWindowMs: 1000,
  });
  assert.equal(report.events[0].flows[0].verdict, "no_traffic");
  assert.equal(report.exitCode, 0);
  assert.match(formatReport(report), /1000 → \(nothing sent\)/);
  assert.match(
    formatReport(report),
    /the client sent nothing after it: the server could not see it/,
  );
  assert.match(formatReport(report), /PASS: 0 of 0/);
});

Deno.test("report: a blackout that kept the mapping expects nothing; a failed client fails", () => {
  const blackout: PerformedEvent = {
    ...event(0, "blackout", `${WIFI}:1000`, `${WIFI}:1000`),
    durationMs: 300,
  };
  const ok = buildReport({
    events: [blackout],
    connections: [connection([])],
    clientExitCode: 0,
    validationWindowMs: 1000,
  });
  assert.equal(ok.events[0].flows[0].verdict, "unchanged");
  assert.match(formatReport(ok), /blackout 300ms \(on wifi\)/);
  assert.equal(ok.exitCode, 0);
  const failed = buildReport({
    events: [blackout],
    connections: [connection([])],
    clientExitCode: 3,
    validationWindowMs: 1000,
  });
  assert.equal(failed.exitCode, 1);
  assert.match(formatReport(failed), /the client exited with 3/);
});
