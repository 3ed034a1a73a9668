/**
 * The relay's open sessions, by client address (`ip:port`), by client IP (for the
 * per-address cap) and by upstream address (the server's view, for the lab): one place that
 * keeps the indexes in step.
 *
 * ```ts
 * const table = new SessionTable<TableSession>();
 * table.add(session);
 * table.fromAddress("127.0.0.1")?.size; // 1
 * table.byUpstream(session.upstreamAddr); // session
 * ```
 * @module
 */

/** What the table needs of a session. */
export interface TableSession {
  readonly key: string;
  readonly client: { readonly hostname: string };
  /** The upstream source address the server sees, `ip:port`; changes only through `moved`. */
  readonly upstreamAddr: string;
}

/** Sessions by key and by client IP. */
export class SessionTable<S extends TableSession> {
  readonly #byKey = new Map<string, S>();
  readonly #byAddress = new Map<string, Set<S>>();
  readonly #byUpstream = new Map<string, S>();

  /** Open sessions. */
  get size(): number {
    return this.#byKey.size;
  }

  /** The session of the client at `key` (`ip:port`), if open. */
  get(key: string): S | undefined {
    return this.#byKey.get(key);
  }

  /** Every open session, in opening order. */
  values(): IterableIterator<S> {
    return this.#byKey.values();
  }

  /** The open sessions from client IP `hostname`, if any. */
  fromAddress(hostname: string): ReadonlySet<S> | undefined {
    return this.#byAddress.get(hostname);
  }

  /** The open session whose upstream address is `upstreamAddr`, if any. */
  byUpstream(upstreamAddr: string): S | undefined {
    return this.#byUpstream.get(upstreamAddr);
  }

  /** Re-indexes `session` after its upstream address changed from `oldUpstreamAddr`. */
  moved(session: S, oldUpstreamAddr: string): void {
    if (this.#byUpstream.get(oldUpstreamAddr) === session) this.#byUpstream.delete(oldUpstreamAddr);
    this.#byUpstream.set(session.upstreamAddr, session);
  }

  /** Adds an opened session. */
  add(session: S): void {
    this.#byKey.set(session.key, session);
    const peers = this.#byAddress.get(session.client.hostname) ?? new Set();
    peers.add(session);
    this.#byAddress.set(session.client.hostname, peers);
    this.#byUpstream.set(session.upstreamAddr, session);
  }

  /** Removes a closed session. */
  remove(session: S): void {
    this.#byKey.delete(session.key);
    const peers = this.#byAddress.get(session.client.hostname);
    peers?.delete(session);
    if (peers?.size === 0) this.#byAddress.delete(session.client.hostname);
    if (this.#byUpstream.get(session.upstreamAddr) === session) {
      this.#byUpstream.delete(session.upstreamAddr);
    }
  }
}
