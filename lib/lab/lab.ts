/**
 * The migration lab: moves a live QUIC connection that reached the server through the lab's
 * relay (`--lab-port`) to a new path on demand, the way a NAT rebinding does, and records what
 * happened: the addresses, whether and how fast the server detected the move, and whether the
 * client carried on (its conformance record).
 *
 * Which relay session carries a connection is found by the address the server currently sees
 * for it, which is the relay's upstream address. That locates the connection's *path*; the
 * connection's identity stays the server-assigned id. Once the lab has moved a session, it keeps
 * that session for the rest of the plan, whether or not the server saw the client follow.
 *
 * ```ts
 * const lab = new MigrationLab(relay, tracker);
 * const record = await lab.migrate(conn, { kind: "port", count: 3, intervalMs: 100 });
 * record.stopped; // null, or why fewer than 3 rebindings were made
 * ```
 * @module
 */

import type { ConnectionTracker, TrackedConnection } from "../tracker/tracker.ts";
import type { MigrationEvent } from "../tracker/types.ts";
import type { RebindKind, RebindRecord, RelaySession, UdpRelay } from "./udp_relay.ts";

/** What to do. */
export interface MigrationPlan {
  /** `port`, `address`, or `mixed` (alternating, starting with port). */
  kind: RebindKind | "mixed";
  count: number;
  /** Pause between rebindings, after the previous one was detected or timed out. */
  intervalMs: number;
  /** How long to wait for the server to detect each move (default 3,000 ms). */
  detectTimeoutMs?: number;
}

/** What happened to one rebinding. */
export interface LabMigration {
  index: number;
  kind: RebindKind;
  old_addr: string;
  new_addr: string;
  rebound_at: string;
  /** Whether the server's tracker saw the connection arrive on the new address. */
  detected: boolean;
  detected_by: MigrationEvent["detected_by"] | null;
  /** Milliseconds from the rebinding to the detection, measured exactly (the lab knows both). */
  detection_delay_ms: number | null;
  /** The tracker's outcome for this migration (`pending` until its window ends). */
  outcome: MigrationEvent["outcome"] | "undetected";
  /** The client sent datagrams on the new mapping (it did not give up on the path). */
  client_sent_on_new_path: boolean;
  /**
   * Milliseconds from the rebinding until the relay had passed the client's first datagram on
   * to the new mapping, or null if none yet. Until then the server had nothing to detect: this
   * part of `detection_delay_ms` is the client's and the relay's, the rest is the server's.
   */
  client_sent_after_ms: number | null;
  /** The server answered on the new mapping. */
  server_answered_on_new_path: boolean;
  /** Requests the connection had served when the rebinding happened. */
  requests_at_rebind: number;
}

/** A connection's record in the lab: its rebindings and whether its client survived them. */
export interface LabRecord {
  migrations: LabMigration[];
  /** Destination connection IDs the relay saw from this client (hex). */
  dcids_seen: string[];
  conformance: {
    rebindings: number;
    /** Rebindings after which the client kept sending and the server followed it. */
    survived: number;
    /** Rebindings the server never saw the client arrive from. */
    not_followed: number;
    /** Survived rebindings after which the connection served more requests. */
    served_requests_after: number;
  };
  /** Why the latest plan made fewer rebindings than it asked for, or null when it made all. */
  stopped: string | null;
}

/** Why a connection cannot be moved: it is not on the lab path. */
export class NotOnLabPathError extends Error {}

/** Why a connection cannot be moved: another migration of it is running. */
export class LabBusyError extends Error {}

/** Moves connections on the lab path and remembers what happened. */
export class MigrationLab {
  readonly #relay: UdpRelay;
  readonly #tracker: ConnectionTracker;
  // Weak: a record goes when the tracker forgets its connection, so the lab never grows unbounded.
  readonly #records = new WeakMap<TrackedConnection, LabRecord>();
  readonly #busy = new Set<TrackedConnection>();
  /** The relay session the lab last moved for each connection. */
  readonly #moved = new WeakMap<TrackedConnection, RelaySession>();
  /** The relay's live record behind each migration, for facts that arrive after detection. */
  readonly #rebindings = new WeakMap<LabMigration, RebindRecord>();

  /** @param relay the lab's relay, whose upstream side is this server */
  constructor(relay: UdpRelay, tracker: ConnectionTracker) {
    this.#relay = relay;
    this.#tracker = tracker;
  }

  /** The relay session carrying `conn` right now, if `conn` came through the lab. */
  sessionFor(conn: TrackedConnection): RelaySession | undefined {
    if (conn.protocol !== "h3" || conn.state !== "open") return undefined;
    const found = this.#relay.sessionByUpstream(conn.remoteAddr);
    if (found !== undefined) return found;
    // A rebinding the client has not followed yet leaves the server on one of the session's
    // earlier mappings, which the relay no longer indexes: the lab knows the session it moved.
    const moved = this.#moved.get(conn);
    return moved !== undefined && whyNotMovable(conn, moved, 0) === null ? moved : undefined;
  }

  /** The lab record of `conn`, refreshed, or undefined if it was never moved. */
  recordFor(conn: TrackedConnection): LabRecord | undefined {
    const record = this.#records.get(conn);
    if (record === undefined) return undefined;
    const c = record.conformance;
    c.rebindings = record.migrations.length;
    c.survived = 0;
    c.not_followed = 0;
    c.served_requests_after = 0;
    for (const [i, m] of record.migrations.entries()) {
      // The relay learns of traffic on the new mapping as it flows, after the detection too.
      const rebinding = this.#rebindings.get(m);
      if (rebinding !== undefined) {
        m.client_sent_on_new_path = rebinding.clientForwardedAt !== null;
        m.client_sent_after_ms = sinceRebinding(rebinding);
        m.server_answered_on_new_path = rebinding.serverAnsweredAt !== null;
      }
      if (m.outcome === "pending") {
        m.outcome = conn.events.find((e) => e.new_addr === m.new_addr)?.outcome ?? m.outcome;
      }
      if (!m.detected) c.not_followed++;
      else if (m.client_sent_on_new_path) c.survived++;
      const next = record.migrations[i + 1]?.requests_at_rebind ?? conn.requestCount;
      if (m.detected && next > m.requests_at_rebind) c.served_requests_after++;
    }
    return record;
  }

  /**
   * Rebinds `conn`'s lab path `plan.count` times. Each rebinding waits until the server's
   * tracker reports the connection on the new address, or until the detection timeout, before
   * the next. A rebinding the server did not follow is recorded as such and the plan goes on
   * with the same relay session: the lab moved that session itself, so it needs no sighting of
   * the connection to find it again. Throws `NotOnLabPathError` if the connection is not on the
   * lab path at the start; stops early, saying why in the record's `stopped`, if the connection
   * closes, its relay session ends, or the server sees it arrive from outside the session's
   * mappings.
   */
  async migrate(conn: TrackedConnection, plan: MigrationPlan): Promise<LabRecord> {
    if (this.#busy.has(conn)) throw new LabBusyError("a migration of this connection is running");
    this.#busy.add(conn);
    try {
      return await this.#migrate(conn, plan);
    } finally {
      this.#busy.delete(conn);
    }
  }

  /** Whether a migration of `conn` is running. */
  isBusy(conn: TrackedConnection): boolean {
    return this.#busy.has(conn);
  }

  async #migrate(conn: TrackedConnection, plan: MigrationPlan): Promise<LabRecord> {
    const session = this.sessionFor(conn);
    if (session === undefined) {
      throw new NotOnLabPathError(
        conn.state === "closed"
          ? `the connection closed (${conn.closeReason})`
          : "the connection did not come through the lab port",
      );
    }
    const record = this.#records.get(conn) ?? {
      migrations: [],
      dcids_seen: [],
      conformance: { rebindings: 0, survived: 0, not_followed: 0, served_requests_after: 0 },
      stopped: null,
    };
    this.#records.set(conn, record);
    this.#moved.set(conn, session);
    record.stopped = null;
    for (let i = 0; i < plan.count; i++) {
      record.stopped = i === 0 ? null : whyNotMovable(conn, session, i);
      if (record.stopped !== null) break;
      const kind: RebindKind = plan.kind === "mixed"
        ? (i % 2 === 0 ? "port" : "address")
        : plan.kind;
      const requestsAtRebind = conn.requestCount;
      const detection = this.#waitForMigration(conn, plan.detectTimeoutMs ?? 3000);
      const moved = this.#relay.rebind(session.key, kind);
      detection.expect(moved.newAddr);
      const seen = await detection.result;
      const rebinding = session.rebindings.at(-1);
      const migration: LabMigration = {
        index: record.migrations.length,
        kind,
        old_addr: moved.oldAddr,
        new_addr: moved.newAddr,
        rebound_at: new Date(Date.now() - (performance.now() - moved.at)).toISOString(),
        detected: seen !== null,
        detected_by: seen?.event.detected_by ?? null,
        detection_delay_ms: seen === null ? null : round(seen.at - moved.at),
        outcome: seen === null ? "undetected" : seen.event.outcome,
        client_sent_on_new_path: rebinding?.clientForwardedAt != null,
        client_sent_after_ms: rebinding === undefined ? null : sinceRebinding(rebinding),
        server_answered_on_new_path: rebinding?.serverAnsweredAt != null,
        requests_at_rebind: requestsAtRebind,
      };
      record.migrations.push(migration);
      if (rebinding !== undefined) this.#rebindings.set(migration, rebinding);
      record.dcids_seen = [...session.dcidsSeen];
      if (i + 1 < plan.count && plan.intervalMs > 0) await delay(plan.intervalMs);
    }
    return this.recordFor(conn)!;
  }

  /** Resolves with the tracker's migration event to the expected address, or null on timeout. */
  #waitForMigration(conn: TrackedConnection, timeoutMs: number) {
    let expected: string | undefined;
    let resolve!: (value: { event: MigrationEvent; at: number } | null) => void;
    const result = new Promise<{ event: MigrationEvent; at: number } | null>((r) => (resolve = r));
    // Subscribed before the rebinding, so a detection that happens at once is not missed.
    const early: Array<{ event: MigrationEvent; at: number }> = [];
    const stop = this.#tracker.subscribe((event) => {
      if (event.type !== "migration" || event.connection_id !== conn.id) return;
      const seen = { event: event.migration, at: performance.now() };
      if (expected === undefined) early.push(seen);
      else if (event.migration.new_addr === expected) finish(seen);
    });
    const timer = setTimeout(() => finish(null), timeoutMs);
    const finish = (value: { event: MigrationEvent; at: number } | null) => {
      clearTimeout(timer);
      stop();
      resolve(value);
    };
    return {
      result,
      expect(addr: string) {
        expected = addr;
        const hit = early.find((e) => e.event.new_addr === addr);
        if (hit) finish(hit);
      },
    };
  }
}

/**
 * Why the rebindings of `conn` through `session` cannot go on after `done` of them, or null if
 * they can. The server's view of the connection must be one of the session's own mappings: the
 * current one, or one it had (a rebinding not followed yet leaves the server on an older one).
 */
function whyNotMovable(
  conn: TrackedConnection,
  session: RelaySession,
  done: number,
): string | null {
  const after = `after ${done} rebinding${done === 1 ? "" : "s"}`;
  if (conn.state === "closed") return `the connection closed ${after} (${conn.closeReason})`;
  if (session.closeReason !== null) {
    return `the lab relay ended the connection's session ${after} (${session.closeReason})`;
  }
  const addr = conn.remoteAddr;
  const ours = addr === session.upstreamAddr ||
    session.rebindings.some((r) => r.oldAddr === addr || r.newAddr === addr);
  return ours ? null : `the connection left the lab path ${after} (now at ${addr})`;
}

/** Milliseconds from a rebinding to the client's first datagram on its new mapping, or null. */
function sinceRebinding(rebinding: RebindRecord): number | null {
  return rebinding.clientForwardedAt === null
    ? null
    : round(rebinding.clientForwardedAt - rebinding.at);
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
