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

/** Where the relay listens, where it forwards, and its limits. */
export interface UdpRelayOptions {
  /** The server's address, as an IP literal (`127.0.0.1`, `::1`). */
  targetHostname: string;
  targetPort: number;
  /** Where clients send to; default `127.0.0.1`. */
  listenHostname?: string;
  /** Default 0: a free port, read it back from `relay.port`. */
  listenPort?: number;
  /** Source address of new upstream mappings; default `127.0.0.1`. */
  upstreamHostname?: string;
  /**
   * Most concurrent sessions; datagrams from further client addresses are dropped (default:
   * `--lab-max-sessions` in `lib/limits.ts`).
   */
  maxSessions?: number;
  /** A session with no traffic either way for this long is closed. Default 60,000 ms. */
  idleTimeoutMs?: number;
  /** How many distinct client → server DCIDs a session records. Default 32. */
  maxDcidsSeen?: number;
}

/** Relay-wide counters. */
export interface UdpRelayStats {
  sessionsOpened: number;
  sessionsClosed: number;
  datagramsFromClients: number;
  datagramsFromServer: number;
  /** Datagrams from new client addresses dropped because `maxSessions` sessions were open. */
  droppedOverSessionCap: number;
  droppedOnOldMapping: number;
  /** Datagrams arriving on an upstream socket from anyone but the target. */
  droppedFromStranger: number;
  sendErrors: number;
  receiveErrors: number;
}

// Largest UDP payload; one receive buffer per socket, reused, so nothing is ever truncated.
const MAX_DATAGRAM = 65535;
const MAX_REBIND_RECORDS = 1000;
const FIRST_ROTATING_LOOPBACK = 2;
const LAST_ROTATING_LOOPBACK = 254;

/** A NAT-like UDP relay in front of one server; see the module notes. */
export class UdpRelay implements AsyncDisposable {
  readonly #listener: Deno.DatagramConn;
  readonly #target: Deno.NetAddr;
  readonly #targetKey: string;
  readonly #upstreamHostname: string;
  readonly #maxSessions: number;
  readonly #idleTimeoutMs: number;
  readonly #maxDcids: number;
  readonly #sessions = new Map<string, SessionState>();
  readonly #loops = new Set<Promise<void>>();
  readonly #subscribers = new Set<(event: RelaySessionEvent) => void>();
  readonly #stats: UdpRelayStats = {
    sessionsOpened: 0,
    sessionsClosed: 0,
    datagramsFromClients: 0,
    datagramsFromServer: 0,
    droppedOverSessionCap: 0,
    droppedOnOldMapping: 0,
    droppedFromStranger: 0,
    sendErrors: 0,
    receiveErrors: 0,
  };
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
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.#maxDcids = options.maxDcidsSeen ?? 32;
    this.#listener = Deno.listenDatagram({
      transport: "udp",
      hostname: options.listenHostname ?? "127.0.0.1",
      port: options.listenPort ?? 0,
    });
    this.#track(this.#relayFromClients());
  }

  /** The address clients send to. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr as Deno.NetAddr;
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
      this.#listener.close();
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
    session.rebindings.push(record);
    if (session.rebindings.length > MAX_REBIND_RECORDS) session.rebindings.shift();
    this.#track(this.#relayFromServer(session, socket, record));
    oldSocket.close();
    this.#emit({ type: "rebound", session });
    return { oldAddr, newAddr, at: record.at };
  }

  async #relayFromClients(): Promise<void> {
    const buffer = new Uint8Array(MAX_DATAGRAM);
    for (;;) {
      let datagram: Uint8Array;
      let from: Deno.NetAddr;
      try {
        [datagram, from] = (await this.#listener.receive(buffer)) as [Uint8Array, Deno.NetAddr];
      } catch (error) {
        if (this.#closing || isClosedError(error)) return;
        this.#stats.receiveErrors++;
        continue;
      }
      if (datagram.length === 0) continue;
      const key = formatAddr(from);
      const session = this.#sessions.get(key) ?? this.#openSession(key, from);
      if (session === undefined) continue;
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
        await this.#listener.send(datagram, session.client);
      } catch {
        this.#stats.sendErrors++;
      }
    }
  }

  #openSession(key: string, client: Deno.NetAddr): SessionState | undefined {
    if (this.#closing) return undefined;
    if (this.#sessions.size >= this.#maxSessions) {
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
    const session = new SessionState(key, client, upstream, this.#maxDcids);
    this.#sessions.set(key, session);
    this.#stats.sessionsOpened++;
    this.#armIdleTimer(session, this.#idleTimeoutMs);
    this.#track(this.#relayFromServer(session, upstream, null));
    this.#emit({ type: "opened", session });
    return session;
  }

  // One timer per session, re-armed only when it fires, instead of on every datagram.
  #armIdleTimer(session: SessionState, delayMs: number): void {
    session.idleTimer = setTimeout(() => {
      const idle = performance.now() - session.lastActivityAt;
      if (idle >= this.#idleTimeoutMs) this.#closeSession(session, "idle");
      else this.#armIdleTimer(session, this.#idleTimeoutMs - idle);
    }, delayMs);
  }

  #closeSession(session: SessionState, reason: "idle" | "relay_closed"): void {
    if (session.closeReason) return;
    session.closeReason = reason;
    clearTimeout(session.idleTimer);
    this.#sessions.delete(session.key);
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

/**
 * The loopback address after `current` in 127.0.0.2 … 127.0.0.254, wrapping around; 127.0.0.2
 * for any other 127.0.0.x. Throws for anything that is not IPv4 loopback 127.0.0.x.
 */
export function nextLoopbackAddress(current: string): string {
  const match = /^127\.0\.0\.(\d{1,3})$/.exec(current);
  if (match === null) {
    throw new Error(`address rebinding needs a 127.0.0.x upstream address, not ${current}`);
  }
  const last = Number(match[1]);
  const next = last >= FIRST_ROTATING_LOOPBACK && last < LAST_ROTATING_LOOPBACK
    ? last + 1
    : FIRST_ROTATING_LOOPBACK;
  return `127.0.0.${next}`;
}

function isClosedError(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted;
}
