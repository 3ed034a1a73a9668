/**
 * One client's session in the relay (`udp_relay.ts`): what callers may read about it (counters,
 * connection IDs seen, rebindings) and the class that keeps that state. The relay owns the
 * sockets; this module only records what passes through them.
 * @module
 */

import { formatAddr } from "../addr.ts";
import { hex, parseQuicHeader } from "./quic_header.ts";
import { sameBytes } from "../bytes.ts";

/** What a rebinding changes: the upstream source port only, or the source address too. */
export type RebindKind = "port" | "address";

/** What `rebind` did: the upstream source addresses the server sees, before and after. */
export interface RebindResult {
  /** `ip:port` the server saw until now. */
  oldAddr: string;
  /** `ip:port` the server sees from now on. */
  newAddr: string;
  /** `performance.now()` when the new mapping took over. */
  at: number;
}

/** One rebinding of a session, and how traffic took to the new mapping. */
export interface RebindRecord extends RebindResult {
  kind: RebindKind;
  /** `performance.now()` of the first client datagram sent on the new mapping, or null. */
  clientForwardedAt: number | null;
  /** `performance.now()` of the first server datagram received on the new mapping, or null. */
  serverAnsweredAt: number | null;
}

/** A client's session as the relay sees it. Live: the fields change as traffic flows. */
export interface RelaySession {
  /** The client's address, `ip:port`: the session's key. */
  readonly key: string;
  /** The upstream source address the server currently sees, `ip:port`. */
  readonly upstreamAddr: string;
  readonly openedAt: number;
  /** `performance.now()` of the last datagram either way. */
  readonly lastActivityAt: number;
  readonly datagramsFromClient: number;
  readonly datagramsFromServer: number;
  /** Server datagrams that reached a mapping after it was replaced, and were dropped. */
  readonly droppedOnOldMapping: number;
  /** Client → server destination connection IDs in hex, in order of first sight (bounded). */
  readonly dcidsSeen: readonly string[];
  /** Every rebinding of this session, oldest first (the most recent 1,000). */
  readonly rebindings: readonly RebindRecord[];
  /**
   * Why the session ended, or null while it is open: no traffic for the idle timeout; no
   * answer from the server in time; pushed out of a full table by a new client; relay closed.
   */
  readonly closeReason: "idle" | "unanswered" | "evicted" | "relay_closed" | null;
}

/** A session opened, was rebound, or closed. */
export interface RelaySessionEvent {
  type: "opened" | "rebound" | "closed";
  session: RelaySession;
}

/** The relay's mutable state for one session; callers see it as a `RelaySession`. */
export class SessionState implements RelaySession {
  upstream: Deno.DatagramConn;
  upstreamAddr: string;
  readonly openedAt = performance.now();
  lastActivityAt = this.openedAt;
  datagramsFromClient = 0;
  datagramsFromServer = 0;
  droppedOnOldMapping = 0;
  readonly dcidsSeen: string[] = [];
  readonly rebindings: RebindRecord[] = [];
  closeReason: RelaySession["closeReason"] = null;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** Length of the server's connection IDs, from its long-header SCID; -1 until known. */
  serverCidLength = -1;
  #lastDcid: Uint8Array = new Uint8Array(0);

  constructor(
    readonly key: string,
    readonly client: Deno.NetAddr,
    /** The relay socket the client sends to, and that answers it. */
    readonly listener: Deno.DatagramConn,
    upstream: Deno.DatagramConn,
    readonly maxDcids: number,
  ) {
    this.upstream = upstream;
    this.upstreamAddr = formatAddr(upstream.addr as Deno.NetAddr);
  }

  /** Records the DCID of a client datagram if it is one we have not seen. */
  noteClientDcid(datagram: Uint8Array): void {
    if (this.dcidsSeen.length >= this.maxDcids) return;
    // Short headers are unreadable until the server has told us its CID length.
    if ((datagram[0] & 0x80) === 0 && this.serverCidLength < 0) return;
    const header = parseQuicHeader(datagram, Math.max(this.serverCidLength, 0));
    if (header === null || sameBytes(header.dcid, this.#lastDcid)) return;
    this.#lastDcid = header.dcid.slice();
    const id = hex(header.dcid);
    if (!this.dcidsSeen.includes(id)) this.dcidsSeen.push(id);
  }

  /** Learns the server's CID length from its Initial or Handshake packets. */
  noteServerHeader(datagram: Uint8Array): void {
    if ((datagram[0] & 0x80) === 0) return;
    const header = parseQuicHeader(datagram, 0);
    if (header?.type === "initial" || header?.type === "handshake") {
      this.serverCidLength = header.scid!.length;
    }
  }
}
