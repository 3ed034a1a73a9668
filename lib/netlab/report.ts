/**
 * The network lab's verdict, sans-IO: what netlab did (each event and, per UDP flow, the NAT's
 * public address before and after it) side by side with what the server recorded (migration
 * events of the connections seen from the NATs' public addresses), and the exit code.
 *
 * A flow *carried traffic* after an event when the client sent on it again, through the NAT it
 * was on after the event; only then can a server see where it went. Such a flow whose public
 * address changed must show up as exactly one migration from the old public address to the new
 * one, of the kind the addresses imply (a new port: `port_change`; a new address:
 * `address_change`), with an outcome that agrees with what happened (the server answered on the
 * new path: `validated`, or `connection_lost` if the connection closed inside the validation
 * window; it never answered: not `validated`). Every other migration is unexpected.
 *
 * ```ts
 * const report = buildReport({ events, connections, clientExitCode: 0, validationWindowMs: 1000 });
 * console.log(formatReport(report));
 * Deno.exit(report.exitCode);
 * ```
 * @module
 */

import type { ConnectionInfo, MigrationEvent, MigrationKind } from "../tracker/types.ts";
import { hostOf } from "./conntrack.ts";
import { describeEvent, type NetEventKind } from "./events.ts";
import type { Uplink } from "./topology.ts";

/** One UDP flow of the client across one event. */
export interface FlowTransition {
  /** The client's own `ip:port` (the flow's identity through every NAT). */
  client: string;
  /** The NAT's public `ip:port` for the flow just before the event. */
  before: string;
  /** Its public `ip:port` the next time the client sent on it, or undefined if it never did. */
  after?: string;
  /** True when the server answered on the `after` mapping. */
  replied: boolean;
}

/** One event as netlab performed it. */
export interface PerformedEvent {
  index: number;
  kind: NetEventKind;
  durationMs?: number;
  /** When it was performed, in ms after the client started. */
  atMs: number;
  /** When it was performed (epoch ms), to compare with the server's timestamps. */
  wallTimeMs: number;
  from: Uplink;
  to: Uplink;
  flows: FlowTransition[];
}

/** The server's migration, as matched to a flow. */
export interface SeenMigration {
  connectionId: string;
  kind: MigrationKind;
  oldAddr: string;
  newAddr: string;
  /** Epoch ms of the server's detection. */
  detectedAtMs: number;
  outcome: MigrationEvent["outcome"];
  /** The connection closed within the validation window after this migration. */
  closedSoon: boolean;
}

/** The verdict on one flow across one event. */
export type FlowVerdict =
  | "seen" // changed, carried traffic, seen once with the right kind and outcome
  | "unchanged" // carried traffic on the same public address: nothing to see
  | "no_traffic" // the client sent nothing on this flow afterwards: nothing the server could see
  | "missed" // changed and carried traffic, but the server recorded nothing
  | "seen_more_than_once"
  | "wrong_kind"
  | "outcome_disagrees";

/** One flow's line of the report. */
export interface FlowReport extends FlowTransition {
  expectedKind?: MigrationKind;
  /** The outcomes that agree with what happened. */
  acceptableOutcomes: MigrationEvent["outcome"][];
  seen: SeenMigration[];
  verdict: FlowVerdict;
}

/** One event's lines of the report. */
export interface EventReport extends Omit<PerformedEvent, "flows"> {
  flows: FlowReport[];
}

/** The whole report. */
export interface NetlabReport {
  events: EventReport[];
  /** Migrations the server recorded that no event explains. */
  unexpected: SeenMigration[];
  /** The client's connections as the server saw them: id, state, migration count. */
  connections: Array<Pick<ConnectionInfo, "connection_id" | "state" | "migration_count">>;
  clientExitCode: number;
  passed: boolean;
  exitCode: 0 | 1;
}

/** What {@link buildReport} needs. */
export interface ReportInput {
  events: PerformedEvent[];
  /** The connections the server saw from the NATs' public addresses during the run. */
  connections: ConnectionInfo[];
  clientExitCode: number;
  validationWindowMs: number;
}

const PASSING: ReadonlySet<FlowVerdict> = new Set(["seen", "unchanged", "no_traffic"]);

/** Matches the server's migrations to the flows' transitions and decides the exit code. */
export function buildReport(input: ReportInput): NetlabReport {
  const observed: SeenMigration[] = [];
  for (const conn of input.connections) {
    const closedAt = conn.state === "closed" ? Date.parse(conn.last_seen) : Infinity;
    for (const event of conn.migration_events) {
      const detectedAtMs = Date.parse(event.timestamp);
      observed.push({
        connectionId: conn.connection_id,
        kind: event.kind,
        oldAddr: event.old_addr,
        newAddr: event.new_addr,
        detectedAtMs,
        outcome: event.outcome,
        closedSoon: closedAt - detectedAtMs <= input.validationWindowMs,
      });
    }
  }
  const matched = new Set<SeenMigration>();
  const events: EventReport[] = input.events.map((event) => ({
    ...event,
    flows: event.flows.map((flow) => {
      const seen = flow.after === undefined || flow.after === flow.before
        ? []
        : observed.filter((m) =>
          !matched.has(m) && m.oldAddr === flow.before && m.newAddr === flow.after
        );
      for (const m of seen) matched.add(m);
      return judgeFlow(flow, seen);
    }),
  }));
  const unexpected = observed.filter((m) => !matched.has(m));
  const passed = unexpected.length === 0 && input.clientExitCode === 0 &&
    events.every((event) => event.flows.every((flow) => PASSING.has(flow.verdict)));
  return {
    events,
    unexpected,
    connections: input.connections.map((c) => ({
      connection_id: c.connection_id,
      state: c.state,
      migration_count: c.migration_count,
    })),
    clientExitCode: input.clientExitCode,
    passed,
    exitCode: passed ? 0 : 1,
  };
}

function judgeFlow(flow: FlowTransition, seen: SeenMigration[]): FlowReport {
  if (flow.after === undefined) {
    return { ...flow, acceptableOutcomes: [], seen, verdict: "no_traffic" };
  }
  if (flow.after === flow.before) {
    return { ...flow, acceptableOutcomes: [], seen, verdict: "unchanged" };
  }
  const expectedKind: MigrationKind = hostOf(flow.before) === hostOf(flow.after)
    ? "port_change"
    : "address_change";
  const closedSoon = seen.length === 1 && seen[0].closedSoon;
  const acceptableOutcomes: MigrationEvent["outcome"][] = flow.replied
    ? (closedSoon ? ["validated", "connection_lost"] : ["validated"])
    : ["connection_lost", "reverted"];
  let verdict: FlowVerdict = "seen";
  if (seen.length === 0) verdict = "missed";
  else if (seen.length > 1) verdict = "seen_more_than_once";
  else if (seen[0].kind !== expectedKind) verdict = "wrong_kind";
  else if (!acceptableOutcomes.includes(seen[0].outcome)) verdict = "outcome_disagrees";
  return { ...flow, expectedKind, acceptableOutcomes, seen, verdict };
}

const VERDICT_TEXT: Readonly<Record<FlowVerdict, string>> = {
  seen: "✓ seen",
  unchanged: "✓ no change, none seen",
  no_traffic: "– the client sent nothing after it: the server could not see it",
  missed: "✗ not seen by the server",
  seen_more_than_once: "✗ seen more than once",
  wrong_kind: "✗ wrong kind",
  outcome_disagrees: "✗ outcome disagrees",
};

/** The report as text: one block per event, then unexpected migrations, then the verdict. */
export function formatReport(report: NetlabReport): string {
  const lines: string[] = ["", "netlab report: what happened ⇄ what the server saw"];
  for (const event of report.events) {
    const where = event.kind === "switch" ? `${event.from} → ${event.to}` : `on ${event.from}`;
    lines.push(
      `  #${event.index + 1} +${seconds(event.atMs)} ${describeEvent(event)} (${where})`,
    );
    if (event.flows.length === 0) lines.push("      no flow to the server at that moment");
    for (const flow of event.flows) {
      lines.push(
        `      flow ${flow.client}: ${flow.before} → ${flow.after ?? "(nothing sent)"}` +
          (flow.after !== undefined && !flow.replied ? " (no answer on it)" : ""),
      );
      for (const m of flow.seen) {
        lines.push(
          `        server: ${m.kind} ${m.oldAddr} → ${m.newAddr} on ${m.connectionId}, ` +
            `${Math.max(0, m.detectedAtMs - event.wallTimeMs)} ms after the event, ${m.outcome}`,
        );
      }
      const expected = flow.expectedKind === undefined
        ? ""
        : ` (expected ${flow.expectedKind}, ${flow.acceptableOutcomes.join(" or ")})`;
      lines.push(`        ${VERDICT_TEXT[flow.verdict]}${flow.verdict === "seen" ? "" : expected}`);
    }
  }
  if (report.events.length === 0) lines.push("  no events were performed");
  for (const m of report.unexpected) {
    lines.push(
      `  ✗ unexpected: ${m.kind} ${m.oldAddr} → ${m.newAddr} on ${m.connectionId}, ${m.outcome}`,
    );
  }
  lines.push(
    `  server connections from the lab: ${
      report.connections.map((c) =>
        `${c.connection_id} (${c.state}, ${c.migration_count} migrations)`
      )
        .join(", ") || "none"
    }`,
  );
  if (report.clientExitCode !== 0) {
    lines.push(`  ✗ the client exited with ${report.clientExitCode}`);
  }
  const counted = report.events.flatMap((e) => e.flows).filter((f) => f.expectedKind !== undefined);
  lines.push(
    `netlab: ${report.passed ? "PASS" : "FAIL"}: ${
      counted.filter((f) => f.verdict === "seen").length
    } of ${counted.length} network change(s) that carried traffic seen exactly once, ` +
      `${report.unexpected.length} unexpected migration(s)`,
  );
  return lines.join("\n") + "\n";
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(3)}s`;
}
