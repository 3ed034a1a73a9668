/**
 * The connection tracker: one record per transport connection (a QUIC connection, or a TCP
 * connection carrying HTTP/2 or HTTP/1.1), with an identity the server assigns at random, never
 * derived from an address. It knows nothing about sockets: listeners report what they observe.
 *
 * ```ts
 * const tracker = new ConnectionTracker();
 * const conn = tracker.open("h3", "127.0.0.1:50000", "127.0.0.1:9443", "localhost");
 * tracker.request(conn);
 * tracker.close(conn, "idle timeout");
 * ```
 * @module
 */

/** The protocol a connection speaks. */
export type Protocol = "h3" | "h2" | "http/1.1";

/** What the tracker knows about one connection. Field names follow the API's JSON. */
export interface ConnectionRecord {
  connection_id: string;
  protocol: Protocol;
  state: "open" | "closed";
  remote_addr: string;
  local_addr: string;
  server_name: string | null;
  start_time: string;
  last_seen: string;
  request_count: number;
  migration_count: number;
  close_reason: string | null;
}

/** An event the tracker emits to its subscribers. */
export type TrackerEvent =
  | { type: "connection_opened"; connection: ConnectionRecord }
  | { type: "connection_closed"; connection: ConnectionRecord };

/** A subscriber; it must not throw. */
export type TrackerListener = (event: TrackerEvent) => void;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** A random 64-bit connection id as 16 hex digits. */
export function newConnectionId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  let id = "";
  for (let i = 0; i < 8; i++) id += HEX[bytes[i]];
  return id;
}

/** Holds every open connection and the recently closed ones. */
export class ConnectionTracker {
  readonly #open = new Map<string, ConnectionRecord>();
  readonly #closed = new Map<string, ConnectionRecord>();
  readonly #listeners = new Set<TrackerListener>();
  readonly #maxClosed: number;

  /** @param maxClosed closed connections kept, oldest dropped first */
  constructor(maxClosed = 10_000) {
    this.#maxClosed = maxClosed;
  }

  /** Registers a new connection and tells subscribers. */
  open(protocol: Protocol, remoteAddr: string, localAddr: string, serverName: string | null) {
    const now = new Date().toISOString();
    const record: ConnectionRecord = {
      connection_id: newConnectionId(),
      protocol,
      state: "open",
      remote_addr: remoteAddr,
      local_addr: localAddr,
      server_name: serverName,
      start_time: now,
      last_seen: now,
      request_count: 0,
      migration_count: 0,
      close_reason: null,
    };
    this.#open.set(record.connection_id, record);
    this.#emit({ type: "connection_opened", connection: record });
    return record;
  }

  /** Counts a request on `record`. Hot path: no allocation but the timestamp. */
  request(record: ConnectionRecord): void {
    record.request_count++;
    record.last_seen = new Date().toISOString();
  }

  /** Marks `record` closed with a reason and keeps it among the recently closed. */
  close(record: ConnectionRecord, reason: string): void {
    if (record.state === "closed") return;
    record.state = "closed";
    record.close_reason = reason;
    record.last_seen = new Date().toISOString();
    this.#open.delete(record.connection_id);
    this.#closed.set(record.connection_id, record);
    if (this.#closed.size > this.#maxClosed) {
      this.#closed.delete(this.#closed.keys().next().value!);
    }
    this.#emit({ type: "connection_closed", connection: record });
  }

  /** Looks a connection up by id, open or recently closed. */
  get(id: string): ConnectionRecord | undefined {
    return this.#open.get(id) ?? this.#closed.get(id);
  }

  /** Open connections, in the order they opened. */
  openConnections(): IterableIterator<ConnectionRecord> {
    return this.#open.values();
  }

  /** Recently closed connections, oldest first. */
  closedConnections(): IterableIterator<ConnectionRecord> {
    return this.#closed.values();
  }

  /** Subscribes to events; returns the unsubscribe function. */
  subscribe(listener: TrackerListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: TrackerEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}
