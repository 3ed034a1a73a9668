/**
 * A UDP relay that behaves like a NAT in front of a QUIC server, and can rebind on demand: it
 * moves a client's traffic to a new upstream source port or source address, so the server
 * sees the same connection arrive from a new path while the client keeps its socket. This is
 * how the lab and the tests make a live connection migrate on one machine.
 *
 * Each client address gets a session with its own upstream socket (the "mapping"). After a
 * rebinding, the old socket is closed: anything the server still sends to the old mapping is
 * lost, exactly as behind a real NAT. The relay only forwards; it never creates datagrams.
 *
 * A socket per session is what an attacker would aim at, so a session costs more than a
 * datagram: only a full-size QUIC Initial (`client_initial.ts`) from an unknown address opens
 * one, and anything else from it is dropped and counted. One client IP holds at most
 * `maxSessionsPerAddress` sessions. A session the server never answered lives
 * `unansweredTimeoutMs`, and when the table (or an address's share) is full, unanswered and
 * then quiet sessions give way to a newcomer (`eviction.ts`); sessions in use never do.
 *
 * ```ts
 * const relay = new UdpRelay({ targetHostname: "127.0.0.1", targetPort: 9443 });
 * // point a QUIC client at 127.0.0.1:relay.port, then:
 * const [session] = relay.sessions();
 * const { oldAddr, newAddr } = relay.rebind(session.key, "address"); // → 127.0.0.2:…
 * await relay.close();
 * ```
 * @module
 */

import { DEFAULT_LIMITS } from "../limits.ts";
import { formatAddr } from "../addr.ts";
import { clientInitialProblem } from "./client_initial.ts";
import { pickEvictionVictim, sessionExpiry, type SessionTimeouts } from "./eviction.ts";
import { nextLoopbackAddress } from "./loopback.ts";
import {
  DEFAULT_EVICTABLE_IDLE_MS,
  DEFAULT_UNANSWERED_TIMEOUT_MS,
  emptyRelayStats,
  type UdpRelayOptions,
  type UdpRelayStats,
} from "./relay_options.ts";
import { SessionTable } from "./session_table.ts";
import {
  type RebindKind,
  type RebindRecord,
  type RebindResult,
  type RelaySession,
  type RelaySessionEvent,
  SessionState,
} from "./relay_session.ts";

export type {
  RebindKind,
  RebindRecord,
  RebindResult,
  RelaySession,
  RelaySessionEvent,
} from "./relay_session.ts";
export {
  DEFAULT_EVICTABLE_IDLE_MS,
  DEFAULT_UNANSWERED_TIMEOUT_MS,
  type UdpRelayOptions,
  type UdpRelayStats,
} from "./relay_options.ts";

// Largest UDP payload; one receive buffer per socket, reused, so nothing is ever truncated.
const MAX_DATAGRAM = 65535;
const MAX_REBIND_RECORDS = 1000;

/** A NAT-like UDP relay in front of one server; see the module notes. */
export class UdpRelay implements AsyncDisposable {
  readonly #listeners: Deno.DatagramConn[] = [];
  readonly #unbound: string[] = [];
  readonly #target: Deno.NetAddr;
  readonly #targetKey: string;
  readonly #upstreamHostname: string;
  readonly #maxSessions: number;
  readonly #maxPerAddress: number;
  readonly #timeouts: SessionTimeouts;
  readonly #evictableIdleMs: number;
  readonly #maxDcids: number;
  readonly #sessions = new SessionTable<SessionState>();
  readonly #loops = new Set<Promise<void>>();
  readonly #subscribers = new Set<(event: RelaySessionEvent) => void>();
  readonly #stats: UdpRelayStats = emptyRelayStats();
  #closing: Promise<void> | undefined;

  /** Binds the listening socket and starts relaying at once. Throws if `targetHostname` is a name. */
  constructor(options: UdpRelayOptions) {
    // Replies are matched against the target's address, so a name would never match.
    if (!/^[\d.]+$|:/.test(options.targetHostname)) {
      throw new TypeError(`targetHostname must be an IP address, not ${options.targetHostname}`);
    }
    this.#target = { transport: "udp", hostname: options.targetHostname, port: options.targetPort };
    this.#targetKey = formatAddr(this.#target);
    this.#upstreamHostname = options.upstreamHostname ?? "127.0.0.1";
    this.#maxSessions = options.maxSessions ?? DEFAULT_LIMITS.labMaxSessions;
    this.#maxPerAddress = options.maxSessionsPerAddress ??
      DEFAULT_LIMITS.labMaxSessionsPerAddress;
    this.#timeouts = {
      idleMs: options.idleTimeoutMs ?? 60_000,
      unansweredMs: options.unansweredTimeoutMs ?? DEFAULT_UNANSWERED_TIMEOUT_MS,
    };
    this.#evictableIdleMs = options.evictableIdleMs ?? DEFAULT_EVICTABLE_IDLE_MS;
    this.#maxDcids = options.maxDcidsSeen ?? 32;
    const first = Deno.listenDatagram({
      transport: "udp",
      hostname: options.listenHostname ?? "127.0.0.1",
      port: options.listenPort ?? 0,
    });
    this.#listeners.push(first);
    const port = (first.addr as Deno.NetAddr).port;
    for (const hostname of options.alsoListenOn ?? []) {
      try {
        this.#listeners.push(Deno.listenDatagram({ transport: "udp", hostname, port }));
      } catch {
        this.#unbound.push(hostname);
      }
    }
    for (const listener of this.#listeners) this.#track(this.#relayFromClients(listener));
  }

  /** The (first) address clients send to. */
  get addr(): Deno.NetAddr {
    return this.#listeners[0].addr as Deno.NetAddr;
  }

  /** Every address clients may send to, all on one port. */
  get addrs(): Deno.NetAddr[] {
    return this.#listeners.map((listener) => listener.addr as Deno.NetAddr);
  }

  /** The `alsoListenOn` addresses that could not be bound. */
  get unboundHostnames(): readonly string[] {
    return this.#unbound;
  }

  /** The port clients send to. */
  get port(): number {
    return this.addr.port;
  }

  /** A snapshot of the relay-wide counters. */
  stats(): UdpRelayStats {
    return { ...this.#stats };
  }

  /** The open sessions. */
  sessions(): RelaySession[] {
    return [...this.#sessions.values()];
  }

  /** The open session for a client address (`ip:port`), if any. */
  getSession(clientAddr: string): RelaySession | undefined {
    return this.#sessions.get(clientAddr);
  }

  /** The open session whose upstream mapping the server sees as `upstreamAddr` (`ip:port`). */
  sessionByUpstream(upstreamAddr: string): RelaySession | undefined {
    return this.#sessions.byUpstream(upstreamAddr);
  }

  /** Calls `callback` for every session event; returns a function that unsubscribes. */
  onSession(callback: (event: RelaySessionEvent) => void): () => void {
    this.#subscribers.add(callback);
    return () => this.#subscribers.delete(callback);
  }

  /**
   * Gives a session (by client `ip:port`), or every open session with `"all"`, a new upstream
   * mapping. `"port"` keeps the source address and takes a new ephemeral port; `"address"`
   * moves to the next of 127.0.0.2 … 127.0.0.254 (cycling), which needs an IPv4 loopback
   * upstream. Throws if the session does not exist or the new socket cannot be bound.
   */
  rebind(target: "all", kind: RebindKind): RebindResult[];
  rebind(sessionKey: string, kind: RebindKind): RebindResult;
  rebind(target: string, kind: RebindKind): RebindResult | RebindResult[] {
    if (target === "all") {
      return [...this.#sessions.values()].map((session) => this.#rebindSession(session, kind));
    }
    const session = this.#sessions.get(target);
    if (session === undefined) throw new Error(`no relay session for ${target}`);
    return this.#rebindSession(session, kind);
  }

  /** Closes every socket and timer, and resolves when every receive loop has ended. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const listener of this.#listeners) listener.close();
      for (const session of [...this.#sessions.values()]) {
        this.#closeSession(session, "relay_closed");
      }
      while (this.#loops.size > 0) await Promise.all(this.#loops);
    })();
    return this.#closing;
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #rebindSession(session: SessionState, kind: RebindKind): RebindResult {
    const oldSocket = session.upstream;
    const oldAddr = session.upstreamAddr;
    const oldHost = (oldSocket.addr as Deno.NetAddr).hostname;
    const hostname = kind === "port" ? oldHost : nextLoopbackAddress(oldHost);
    // Bound before the old one closes, so a port rebinding cannot get the same port back.
    const socket = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
    const newAddr = formatAddr(socket.addr as Deno.NetAddr);
    const record: RebindRecord = {
      kind,
      oldAddr,
      newAddr,
      at: performance.now(),
      clientForwardedAt: null,
      serverAnsweredAt: null,
    };
    session.upstream = socket;
    session.upstreamAddr = newAddr;
    this.#sessions.moved(session, oldAddr);
    session.rebindings.push(record);
    if (session.rebindings.length > MAX_REBIND_RECORDS) session.rebindings.shift();
    this.#track(this.#relayFromServer(session, socket, record));
    oldSocket.close();
    this.#emit({ type: "rebound", session });
    return { oldAddr, newAddr, at: record.at };
  }

  async #relayFromClients(listener: Deno.DatagramConn): Promise<void> {
    const buffer = new Uint8Array(MAX_DATAGRAM);
    for (;;) {
      let datagram: Uint8Array;
      let from: Deno.NetAddr;
      try {
        [datagram, from] = (await listener.receive(buffer)) as [Uint8Array, Deno.NetAddr];
      } catch (error) {
        if (this.#closing || isClosedError(error)) return;
        this.#stats.receiveErrors++;
        continue;
      }
      if (datagram.length === 0) continue;
      const key = formatAddr(from);
      let session = this.#sessions.get(key);
      if (session === undefined) {
        // No socket for anything but the first flight of a real handshake.
        if (clientInitialProblem(datagram) !== null) {
          this.#stats.droppedNotInitial++;
          continue;
        }
        session = this.#openSession(key, from, listener);
        if (session === undefined) continue;
      }
      this.#stats.datagramsFromClients++;
      session.datagramsFromClient++;
      session.lastActivityAt = performance.now();
      session.noteClientDcid(datagram);
      const upstream = session.upstream;
      const rebinding = session.rebindings.at(-1);
      try {
        // Awaited so the shared buffer is not overwritten while the datagram is in flight.
        await upstream.send(datagram, this.#target);
      } catch {
        this.#stats.sendErrors++;
        continue;
      }
      if (rebinding && rebinding.clientForwardedAt === null && upstream === session.upstream) {
        rebinding.clientForwardedAt = performance.now();
      }
    }
  }

  async #relayFromServer(
    session: SessionState,
    upstream: Deno.DatagramConn,
    rebinding: RebindRecord | null,
  ): Promise<void> {
    const buffer = new Uint8Array(MAX_DATAGRAM);
    for (;;) {
      let datagram: Uint8Array;
      let from: Deno.NetAddr;
      try {
        [datagram, from] = (await upstream.receive(buffer)) as [Uint8Array, Deno.NetAddr];
      } catch (error) {
        if (upstream !== session.upstream || session.closeReason || isClosedError(error)) return;
        this.#stats.receiveErrors++;
        continue;
      }
      if (upstream !== session.upstream) {
        // Arrived on a mapping that was replaced while the receive was pending.
        session.droppedOnOldMapping++;
        this.#stats.droppedOnOldMapping++;
        continue;
      }
      if (from.port !== this.#target.port || formatAddr(from) !== this.#targetKey) {
        this.#stats.droppedFromStranger++;
        continue;
      }
      if (datagram.length === 0) continue;
      this.#stats.datagramsFromServer++;
      session.datagramsFromServer++;
      session.lastActivityAt = performance.now();
      if (rebinding && rebinding.serverAnsweredAt === null) {
        rebinding.serverAnsweredAt = session.lastActivityAt;
      }
      session.noteServerHeader(datagram);
      try {
        await session.listener.send(datagram, session.client);
      } catch {
        this.#stats.sendErrors++;
      }
    }
  }

  #openSession(
    key: string,
    client: Deno.NetAddr,
    listener: Deno.DatagramConn,
  ): SessionState | undefined {
    if (this.#closing) return undefined;
    const sameAddress = this.#sessions.fromAddress(client.hostname);
    if (sameAddress !== undefined && sameAddress.size >= this.#maxPerAddress) {
      if (!this.#makeRoom(sameAddress)) {
        this.#stats.droppedOverAddressCap++;
        return undefined;
      }
    }
    if (this.#sessions.size >= this.#maxSessions && !this.#makeRoom(this.#sessions.values())) {
      this.#stats.droppedOverSessionCap++;
      return undefined;
    }
    let upstream: Deno.DatagramConn;
    try {
      upstream = Deno.listenDatagram({
        transport: "udp",
        hostname: this.#upstreamHostname,
        port: 0,
      });
    } catch {
      this.#stats.sendErrors++; // no mapping, so the datagram could not be forwarded
      return undefined;
    }
    const session = new SessionState(key, client, listener, upstream, this.#maxDcids);
    this.#sessions.add(session);
    this.#stats.sessionsOpened++;
    this.#armExpiry(session, Math.min(this.#timeouts.idleMs, this.#timeouts.unansweredMs));
    this.#track(this.#relayFromServer(session, upstream, null));
    this.#emit({ type: "opened", session });
    return session;
  }

  /** Closes the session `pickEvictionVictim` names among `sessions`; false if none may go. */
  #makeRoom(sessions: Iterable<SessionState>): boolean {
    const victim = pickEvictionVictim(sessions, performance.now(), this.#evictableIdleMs);
    if (victim === undefined) return false;
    this.#stats.sessionsEvicted++;
    this.#closeSession(victim, "evicted");
    return true;
  }

  // One timer per session, re-armed only when it fires, instead of on every datagram.
  #armExpiry(session: SessionState, delayMs: number): void {
    session.idleTimer = setTimeout(() => {
      const due = sessionExpiry(session, performance.now(), this.#timeouts);
      if (typeof due === "number") return this.#armExpiry(session, due);
      if (due === "unanswered") this.#stats.sessionsUnanswered++;
      this.#closeSession(session, due);
    }, delayMs);
  }

  #closeSession(session: SessionState, reason: NonNullable<RelaySession["closeReason"]>): void {
    if (session.closeReason) return;
    session.closeReason = reason;
    clearTimeout(session.idleTimer);
    this.#sessions.remove(session);
    this.#stats.sessionsClosed++;
    session.upstream.close();
    this.#emit({ type: "closed", session });
  }

  #emit(event: RelaySessionEvent): void {
    for (const callback of this.#subscribers) {
      try {
        callback(event);
      } catch (error) {
        // As an EventTarget listener would: report it, and keep relaying.
        reportError(error);
      }
    }
  }

  #track(loop: Promise<void>): void {
    this.#loops.add(loop);
    loop.finally(() => this.#loops.delete(loop));
  }
}

function isClosedError(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted;
}
