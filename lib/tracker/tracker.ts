/**
 * The connection tracker: one record per transport connection (a QUIC connection, or a TCP
 * connection carrying HTTP/2 or HTTP/1.1), identified by a random id the server assigns, never
 * by an address. Listeners report what they observe (a request and the peer's address at that
 * moment, a periodic look at the address, a close); the tracker turns address changes into
 * migration events and tells its subscribers. It knows nothing about sockets, and takes the
 * time from an injectable clock so tests drive it deterministically.
 *
 * ```ts
 * const tracker = new ConnectionTracker();
 * const conn = tracker.open("h3", "127.0.0.1:50000", "127.0.0.1:9443", "localhost");
 * tracker.request(conn, "127.0.0.1:50001"); // a port change, detected by a request
 * tracker.close(conn, "idle timeout", "error");
 * ```
 * @module
 */

import { EventLog } from "./event_log.ts";
import { byStartTime, connectionFromInfo } from "./restore.ts";
import { TrackedConnection } from "./tracked_connection.ts";
import { changeKind, newConnectionId, outcomeAtClose } from "./migration_rules.ts";
import type {
  ConnectionEnding,
  ConnectionInfo,
  MigrationEvent,
  MigrationOutcome,
  Protocol,
  TrackerEvent,
  TrackerListener,
} from "./types.ts";

export type { ByteCounters } from "./tracked_connection.ts";
export type { RequestActivityInfo } from "./request_activity.ts";
export { TrackedConnection } from "./tracked_connection.ts";
export { LOST_AT_RESTART } from "./restore.ts";
export { newConnectionId } from "./migration_rules.ts";

/** Limits and timing. */
export interface TrackerOptions {
  /** Closed connections are kept this long (default one hour)… */
  closedRetentionMs?: number;
  /** …and at most this many, oldest dropped first (default 10,000). */
  maxClosed?: number;
  /** Migration events kept per connection; older ones are counted as dropped (default 100). */
  maxEventsPerConnection?: number;
  /**
   * How long a new address must stand (or serve a request) before its migration counts as
   * validated (default 1,000 ms: several round trips on any network this lab sees; quinn falls
   * back within about 3 PTOs when validation fails).
   */
  validationWindowMs?: number;
  /** Events kept for resuming live streams (default 1,000). */
  eventBufferSize?: number;
  /**
   * The IPs a load balancer forwards from, in cluster mode: a move from one of them to another
   * address is the client's hand-off to this node's preferred address (`preferred_address`),
   * not a NAT migration.
   */
  balancerSources?: ReadonlySet<string>;
  /** The clock, in milliseconds since the epoch. */
  now?: () => number;
}

/** Which connections to list. */
export interface ListFilter {
  state?: "open" | "closed" | "all";
  protocol?: Protocol;
  migrated?: boolean;
  /** Only connections after this cursor (from a previous page). */
  cursor?: number;
  limit: number;
}

/** Totals across the tracker. */
export interface TrackerSummary {
  open: number;
  closed: number;
  total_migrations: number;
  migrations_by_outcome: Record<string, number>;
}

/** How long a new address must stand before its migration counts as validated, by default. */
export const DEFAULT_VALIDATION_WINDOW_MS = 1000;

/** Holds every open connection and the recently closed ones. */
export class ConnectionTracker {
  readonly #open = new Map<string, TrackedConnection>();
  readonly #closed = new Map<string, TrackedConnection>();
  readonly #pending = new Set<TrackedConnection>();
  readonly #listeners = new Set<TrackerListener>();
  readonly #log: EventLog;
  readonly #closedRetentionMs: number;
  readonly #maxClosed: number;
  readonly #maxEvents: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #balancerSources: ReadonlySet<string>;
  #seq = 0;
  #totalMigrations = 0;
  readonly #byOutcome: Record<string, number> = {
    validated: 0,
    reverted: 0,
    closed_before_validation: 0,
    connection_lost: 0,
  };

  /** Creates an empty tracker. */
  constructor(options: TrackerOptions = {}) {
    this.#closedRetentionMs = options.closedRetentionMs ?? 3_600_000;
    this.#maxClosed = options.maxClosed ?? 10_000;
    this.#maxEvents = options.maxEventsPerConnection ?? 100;
    this.#windowMs = options.validationWindowMs ?? DEFAULT_VALIDATION_WINDOW_MS;
    this.#log = new EventLog(options.eventBufferSize ?? 1000);
    this.#now = options.now ?? Date.now;
    this.#balancerSources = options.balancerSources ?? new Set();
  }

  /** The validation window in milliseconds. */
  get validationWindowMs(): number {
    return this.#windowMs;
  }

  /** How long, and how many, closed connections are kept (a store applies the same limits). */
  get retention(): { closedRetentionMs: number; maxClosed: number } {
    return { closedRetentionMs: this.#closedRetentionMs, maxClosed: this.#maxClosed };
  }

  /**
   * Puts connections recorded by an earlier process back among the closed ones, with their ids,
   * counts, migration events and close reasons; a record of a connection that was still open
   * becomes closed with `lost_at_restart`. Call it before accepting connections: restored
   * connections take the first opening sequence numbers, in the order they opened, so cursor
   * paging stays stable. Known ids are skipped, retention applies as to any closed connection,
   * and no events are emitted (nothing happened now; a live stream should not see old
   * connections "open" again). Returns the connections that were kept.
   */
  restore(infos: readonly ConnectionInfo[]): TrackedConnection[] {
    const fresh = infos.filter((info) => this.get(info.connection_id) === undefined);
    const restored = [...fresh].sort(byStartTime).map((info) =>
      connectionFromInfo(info, ++this.#seq)
    );
    for (const conn of restored) {
      this.#totalMigrations += conn.migrationCount;
      for (const event of conn.events) this.#byOutcome[event.outcome]++;
    }
    // Retention walks the closed map oldest first: keep it in closing (last seen) order.
    const closed = [...this.#closed.values(), ...restored].sort((a, b) =>
      a.lastSeenMs - b.lastSeenMs
    );
    this.#closed.clear();
    for (const conn of closed.slice(Math.max(0, closed.length - this.#maxClosed))) {
      this.#closed.set(conn.id, conn);
    }
    this.#forgetExpired(this.#now());
    return restored.filter((conn) => this.#closed.get(conn.id) === conn);
  }

  /** Registers a new connection and tells subscribers. */
  open(
    protocol: Protocol,
    remoteAddr: string,
    localAddr: string,
    serverName: string | null,
  ): TrackedConnection {
    const conn = new TrackedConnection(
      newConnectionId(),
      ++this.#seq,
      protocol,
      remoteAddr,
      localAddr,
      serverName,
      this.#now(),
    );
    this.#open.set(conn.id, conn);
    this.#emit({ id: 0, type: "connection_opened", connection: conn.toJSON() });
    return conn;
  }

  /**
   * Counts a request on `conn`, made from `remoteAddr` as the listener sees it now. A changed
   * address is a migration detected by the request; a request on a pending migration's new
   * address validates it. Hot path: no allocation unless the address changed.
   */
  request(conn: TrackedConnection, remoteAddr: string): void {
    conn.requestCount++;
    const now = this.#now();
    conn.lastSeenMs = now;
    conn.countActivity(now);
    if (remoteAddr !== conn.remoteAddr) this.#changed(conn, remoteAddr, "request", now);
    else conn.lastObservedMs = now;
    if (conn.pending !== undefined && conn.pending.new_addr === remoteAddr) {
      this.#settle(conn, "validated");
    }
  }

  /** Records the address the watcher saw on `conn` at `now` (default: the clock, now). */
  observe(conn: TrackedConnection, remoteAddr: string, now: number = this.#now()): void {
    if (conn.state === "closed") return;
    if (remoteAddr !== conn.remoteAddr) this.#changed(conn, remoteAddr, "watcher", now);
    else conn.lastObservedMs = now;
  }

  /** The tracker's clock, in ms (for callers that observe many connections at one instant). */
  clock(): number {
    return this.#now();
  }

  /** Ends validation windows that have run out, and forgets closed connections past retention. */
  tick(): void {
    const now = this.#now();
    for (const conn of this.#pending) {
      if (now >= conn.pendingUntil) this.#settle(conn, "validated");
    }
    this.#forgetExpired(now);
  }

  #forgetExpired(now: number): void {
    const cutoff = now - this.#closedRetentionMs;
    for (const conn of this.#closed.values()) {
      if (conn.lastSeenMs >= cutoff) break; // insertion order is closing order
      this.#closed.delete(conn.id);
    }
  }

  /**
   * Marks `conn` closed with a reason and keeps it among the recently closed. `ending` says how
   * it ended; it decides what a migration still inside its window became (see
   * `MigrationOutcome`). A caller that cannot tell gets `error`, the answer that claims nothing
   * about the new path.
   */
  close(conn: TrackedConnection, reason: string, ending: ConnectionEnding = "error"): void {
    if (conn.state === "closed") return;
    if (conn.pending !== undefined) this.#settle(conn, outcomeAtClose(conn, ending));
    conn.state = "closed";
    conn.closeReason = reason;
    conn.lastSeenMs = this.#now();
    this.#open.delete(conn.id);
    this.#closed.set(conn.id, conn);
    if (this.#closed.size > this.#maxClosed) this.#closed.delete(this.#closed.keys().next().value!);
    this.#emit({ id: 0, type: "connection_closed", connection: conn.toJSON() });
  }

  #changed(
    conn: TrackedConnection,
    addr: string,
    by: "request" | "watcher",
    now: number,
  ): void {
    const pending = conn.pending;
    if (pending !== undefined) {
      if (pending.old_addr === addr) {
        // Back to the old address inside the window: the path change was undone.
        conn.remoteAddr = addr;
        conn.lastObservedMs = now;
        this.#settle(conn, "reverted");
        return;
      }
      // Moved on again: the intermediate address was left for a new one, not for the old one.
      this.#settle(conn, "validated");
    }
    const old = conn.remoteAddr;
    const event: MigrationEvent = {
      timestamp: new Date(now).toISOString(),
      old_addr: old,
      new_addr: addr,
      kind: changeKind(old, addr, this.#balancerSources),
      detected_by: by,
      detection_window_ms: now - conn.lastObservedMs,
      validated: false,
      outcome: "pending",
    };
    conn.remoteAddr = addr;
    conn.lastObservedMs = now;
    // The hand-off to the preferred address is recorded, but it is no NAT migration.
    if (event.kind !== "preferred_address") conn.migrationCount++;
    conn.events.push(event);
    if (conn.events.length > this.#maxEvents) {
      conn.events.shift();
      conn.eventsDropped++;
    }
    conn.pending = event;
    conn.pendingUntil = now + this.#windowMs;
    conn.pendingBytesIn = conn.counters?.bytesIn ?? 0;
    this.#pending.add(conn);
    if (event.kind !== "preferred_address") this.#totalMigrations++;
    this.#emit({
      id: 0,
      type: "migration",
      connection_id: conn.id,
      migration: event,
      connection: conn.toJSON(),
    });
  }

  #settle(conn: TrackedConnection, outcome: Exclude<MigrationOutcome, "pending">): void {
    const event = conn.pending;
    if (event === undefined) return;
    conn.pending = undefined;
    this.#pending.delete(conn);
    event.outcome = outcome;
    event.validated = outcome === "validated";
    this.#byOutcome[outcome]++;
    this.#emit({ id: 0, type: "migration_outcome", connection_id: conn.id, migration: event });
  }

  /** Looks a connection up by id, open or recently closed. */
  get(id: string): TrackedConnection | undefined {
    return this.#open.get(id) ?? this.#closed.get(id);
  }

  /** Open connections, in the order they opened. */
  openConnections(): IterableIterator<TrackedConnection> {
    return this.#open.values();
  }

  /** Recently closed connections, in the order they closed. */
  closedConnections(): IterableIterator<TrackedConnection> {
    return this.#closed.values();
  }

  /**
   * One page of connections in opening order, after `cursor`. The cursor is the opening
   * sequence number of the last connection returned, so paging is stable while connections open
   * and close: each connection appears exactly once across pages.
   */
  list(filter: ListFilter): { connections: TrackedConnection[]; nextCursor: number | null } {
    // The watcher's tick also forgets expired connections, but it only runs while QUIC
    // connections are open; a listing must not show what retention already dropped.
    this.#forgetExpired(this.#now());
    const state = filter.state ?? "all";
    const candidates: TrackedConnection[] = [];
    if (state !== "closed") candidates.push(...this.#open.values());
    if (state !== "open") candidates.push(...this.#closed.values());
    const after = filter.cursor ?? 0;
    const matching = candidates.filter((c) =>
      c.seq > after &&
      (filter.protocol === undefined || c.protocol === filter.protocol) &&
      (filter.migrated !== true || c.migrationCount > 0)
    ).sort((a, b) => a.seq - b.seq);
    const page = matching.slice(0, filter.limit);
    const more = matching.length > page.length;
    return { connections: page, nextCursor: more ? page[page.length - 1].seq : null };
  }

  /** Totals: open and closed connections, migrations and their outcomes. */
  summary(): TrackerSummary {
    return {
      open: this.#open.size,
      closed: this.#closed.size,
      total_migrations: this.#totalMigrations,
      migrations_by_outcome: {
        ...this.#byOutcome,
        pending: this.#pending.size,
      },
    };
  }

  /** Events after `lastId` still in the buffer, or null when some were already dropped. */
  eventsSince(lastId: number): TrackerEvent[] | null {
    return this.#log.since(lastId);
  }

  /** The id of the newest event (0 before any). */
  get lastEventId(): number {
    return this.#log.lastId;
  }

  /** Subscribes to events; returns the unsubscribe function. A listener that throws is dropped. */
  subscribe(listener: TrackerListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: TrackerEvent): void {
    this.#log.append(event);
    for (const listener of this.#listeners) {
      // A failing subscriber (say, a live stream whose client just left) must not fail the
      // request or close that reported the event, nor starve the other subscribers.
      try {
        listener(event);
      } catch {
        this.#listeners.delete(listener);
      }
    }
  }
}

export type { ConnectionInfo, MigrationEvent, Protocol, TrackerEvent, TrackerListener };
