/**
 * The few QUIC operations the HTTP/3 code uses, as an interface, so the same code runs over
 * `Deno.QuicConn` (which satisfies it as is) or over a test double.
 * @module
 */

/** A remote or local UDP address. */
export interface QuicAddr {
  hostname: string;
  port: number;
}

/** How a QUIC connection was closed: an application error code and a reason. */
export interface QuicCloseInfo {
  closeCode: number;
  reason: string;
}

/** A bidirectional stream: the peer's bytes in, ours out. */
export interface QuicBidiStream {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
}

/** The subset of `Deno.QuicConn` HTTP/3 needs. */
export interface QuicConnection {
  /** The peer's current address. Live: it changes when the connection migrates. */
  readonly remoteAddr: QuicAddr;
  readonly incomingBidirectionalStreams: ReadableStream<QuicBidiStream>;
  readonly incomingUnidirectionalStreams: ReadableStream<ReadableStream<Uint8Array>>;
  createBidirectionalStream(options?: { waitUntilAvailable?: boolean }): Promise<QuicBidiStream>;
  createUnidirectionalStream(): Promise<WritableStream<Uint8Array>>;
  close(info?: QuicCloseInfo): void;
  /** Resolves on an application close; rejects on idle timeout or a transport error. */
  readonly closed: Promise<QuicCloseInfo>;
}
