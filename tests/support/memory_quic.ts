/**
 * An in-memory QUIC connection pair: two connected `QuicConnection`s (client and server side)
 * for driving the HTTP/3 code with no sockets, in the spirit of quinn-proto's test `Pair`.
 *
 * Streams are real Web streams. Each direction of a stream is a byte `ReadableStream` (so
 * BYOB reads work) fed by the sender's `WritableStream`; bytes are copied on the way, as a
 * network would, so neither side can see the other's buffers change. A stream has a receive
 * window (stream credit): a write resolves only once the receiver's unread bytes fit in it, so
 * a reader that stops reading stops the writer. Stream ends mirror QUIC's: a writer's
 * `close()` is FIN, its `abort()` a RESET_STREAM (the reader's read rejects), a reader's
 * `cancel()` a STOP_SENDING (the writer's writes reject from then on).
 *
 * `close(info)` on either side ends the connection for both: each side's `closed` resolves with
 * `info`, every stream fails, and no more streams come in. `pair.idleTimeout()` ends it the way
 * a silent peer does: both `closed` promises reject. `pair.migrate(addr)` moves the client to a
 * new address, which the server side's live `remoteAddr` then shows.
 *
 * All of it runs on promise jobs (microtasks), never on timers, so one macrotask turn (see
 * `settle()` in `fake_clock.ts`) runs the pair until nothing more can happen without input.
 *
 * ```ts
 * const pair = new MemoryQuicPair();
 * const h3 = new H3ServerConnection(pair.server, handler, {});
 * h3.serve();
 * const stream = await pair.client.createBidirectionalStream();
 * ```
 * @module
 */

import type {
  QuicAddr,
  QuicBidiStream,
  QuicCloseInfo,
  QuicConnection,
} from "../../lib/h3/transport.ts";

/** What a read or write fails with once the connection is gone. */
export class ConnectionClosedError extends Error {
  /** @param detail how it ended */
  constructor(detail: string) {
    super(`connection closed: ${detail}`);
    this.name = "ConnectionClosedError";
  }
}

/** What the sender's writes fail with after the receiver stopped reading (STOP_SENDING). */
export class StreamStoppedError extends Error {
  /** @param id the stream */
  constructor(id: number) {
    super(`stream ${id}: the peer stopped reading (STOP_SENDING)`);
    this.name = "StreamStoppedError";
  }
}

/** What the receiver's reads fail with after the sender aborted (RESET_STREAM). */
export class StreamResetError extends Error {
  /** @param id the stream */
  constructor(id: number) {
    super(`stream ${id}: the peer reset it (RESET_STREAM)`);
    this.name = "StreamResetError";
  }
}

/** How each direction of one stream ended, for tests to assert on. */
export interface StreamEnds {
  /** How the sender ended its side: FIN, RESET_STREAM, or not yet. */
  sent: "open" | "fin" | "reset";
  /** Whether the receiver stopped reading (STOP_SENDING) before the sender ended. */
  stopped: boolean;
}

/** A bidirectional stream of the pair, with its QUIC stream ID. */
export interface MemoryBidiStream extends QuicBidiStream {
  readonly id: number;
}

/** Options for a {@linkcode MemoryQuicPair}. */
export interface MemoryQuicPairOptions {
  /** Unread bytes a stream's receiver holds before the sender's writes wait (default 64 KiB). */
  streamWindow?: number;
  /** The client's address as the server sees it. */
  clientAddr?: QuicAddr;
  /** The server's address as the client sees it. */
  serverAddr?: QuicAddr;
}

/** One direction of a stream: the sender's writable feeding the receiver's readable. */
class Pipe {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly ends: StreamEnds = { sent: "open", stopped: false };
  #rc!: ReadableByteStreamController;
  #wc!: WritableStreamDefaultController;
  /** Wakes a write waiting for the receiver to make room. */
  #credit: (() => void) | undefined;

  constructor(readonly id: number, window: number, onEnd: (pipe: Pipe) => void) {
    this.readable = new ReadableStream({
      type: "bytes",
      start: (controller) => void (this.#rc = controller),
      pull: () => this.#wake(),
      cancel: () => {
        if (this.ends.sent === "open") this.ends.stopped = true;
        this.#wc.error(new StreamStoppedError(id));
        this.#wake();
        onEnd(this);
      },
    }, { highWaterMark: window });
    this.writable = new WritableStream<Uint8Array>({
      start: (controller) => void (this.#wc = controller),
      write: async (chunk) => {
        if (this.ends.stopped) throw new StreamStoppedError(id);
        this.#rc.enqueue(chunk.slice());
        // Bounded by the receiver: each turn waits for it to read (or to stop reading).
        while ((this.#rc.desiredSize ?? 1) <= 0 && !this.ends.stopped) {
          await new Promise<void>((resolve) => (this.#credit = resolve));
        }
      },
      close: () => {
        this.ends.sent = "fin";
        this.#rc.close();
        onEnd(this);
      },
      abort: () => {
        this.ends.sent = "reset";
        this.#rc.error(new StreamResetError(id));
        onEnd(this);
      },
    });
  }

  /** Fails both ends (the connection is gone); ends already finished stay as they are. */
  fail(error: Error): void {
    try {
      this.#rc.error(error);
    } catch {
      // already closed or errored
    }
    this.#wc.error(error);
    this.#wake();
  }

  #wake(): void {
    const credit = this.#credit;
    this.#credit = undefined;
    credit?.();
  }
}

/** An incoming-stream queue: a stream of streams that ends with the connection. */
class Incoming<T> {
  readonly stream: ReadableStream<T>;
  #controller!: ReadableStreamDefaultController<T>;
  constructor() {
    this.stream = new ReadableStream<T>({ start: (c) => void (this.#controller = c) });
  }
  push(value: T): void {
    this.#controller.enqueue(value);
  }
  end(): void {
    try {
      this.#controller.close();
    } catch {
      // cancelled by its reader
    }
  }
}

/** One side of the pair; see the module documentation. */
export class MemoryQuicConnection implements QuicConnection {
  /** The peer's address; a test may change it (see `MemoryQuicPair.migrate`). */
  remoteAddr: QuicAddr;
  readonly closed: Promise<QuicCloseInfo>;
  /** Which side this is: its streams get even (client) or odd (server) IDs (RFC 9000 §2.1). */
  readonly role: "client" | "server";
  peer!: MemoryQuicConnection;
  readonly #pair: MemoryQuicPair;
  readonly #bidi = new Incoming<MemoryBidiStream>();
  readonly #uni = new Incoming<ReadableStream<Uint8Array>>();
  #nextBidi = 0;
  #nextUni = 0;
  #settle!: { resolve: (info: QuicCloseInfo) => void; reject: (error: Error) => void };

  constructor(pair: MemoryQuicPair, role: "client" | "server", remoteAddr: QuicAddr) {
    this.#pair = pair;
    this.role = role;
    this.remoteAddr = remoteAddr;
    this.closed = new Promise((resolve, reject) => (this.#settle = { resolve, reject }));
    // A rejection nobody awaits would fail the test run; the rejection stays visible to awaiters.
    this.closed.catch(() => {});
  }

  get incomingBidirectionalStreams(): ReadableStream<MemoryBidiStream> {
    return this.#bidi.stream;
  }

  get incomingUnidirectionalStreams(): ReadableStream<ReadableStream<Uint8Array>> {
    return this.#uni.stream;
  }

  /** Opens a bidirectional stream; the peer sees it on its incoming queue at once. */
  // deno-lint-ignore require-await -- async so that a closed connection rejects, not throws
  async createBidirectionalStream(): Promise<MemoryBidiStream> {
    this.#pair.assertOpen();
    const id = (this.#nextBidi++ * 4) | (this.role === "server" ? 1 : 0);
    const out = this.#pair.pipe(id);
    const back = this.#pair.pipe(id);
    this.peer.#bidi.push({ id, readable: out.readable, writable: back.writable });
    return { id, readable: back.readable, writable: out.writable };
  }

  /** Opens a unidirectional stream; the peer sees its readable on its incoming queue at once. */
  // deno-lint-ignore require-await -- async so that a closed connection rejects, not throws
  async createUnidirectionalStream(): Promise<WritableStream<Uint8Array>> {
    this.#pair.assertOpen();
    const id = (this.#nextUni++ * 4) | (this.role === "server" ? 3 : 2);
    const pipe = this.#pair.pipe(id);
    this.peer.#uni.push(pipe.readable);
    return pipe.writable;
  }

  /** Closes the connection for both sides with `info`; later calls do nothing. */
  close(info: QuicCloseInfo = { closeCode: 0, reason: "" }): void {
    this.#pair.end(info);
  }

  /** Ends this side: called by the pair for both sides at once. */
  end(outcome: QuicCloseInfo | Error): void {
    this.#bidi.end();
    this.#uni.end();
    if (outcome instanceof Error) this.#settle.reject(outcome);
    else this.#settle.resolve(outcome);
  }
}

/** A connected client and server; see the module documentation. */
export class MemoryQuicPair {
  readonly client: MemoryQuicConnection;
  readonly server: MemoryQuicConnection;
  readonly #window: number;
  /** Every stream direction still open, to fail when the connection ends. */
  readonly #open = new Set<Pipe>();
  /** Every stream direction ever opened, by stream ID (two per bidirectional stream). */
  readonly #byId = new Map<number, Pipe[]>();
  #ended: QuicCloseInfo | Error | undefined;

  /** Creates a connected pair (the handshake is taken as done). */
  constructor(options: MemoryQuicPairOptions = {}) {
    this.#window = options.streamWindow ?? 64 * 1024;
    const clientAddr = options.clientAddr ?? { hostname: "192.0.2.1", port: 50000 };
    const serverAddr = options.serverAddr ?? { hostname: "192.0.2.100", port: 443 };
    this.client = new MemoryQuicConnection(this, "client", serverAddr);
    this.server = new MemoryQuicConnection(this, "server", clientAddr);
    this.client.peer = this.server;
    this.server.peer = this.client;
  }

  /** Whether the connection has ended. */
  get isClosed(): boolean {
    return this.#ended !== undefined;
  }

  /**
   * How each direction of stream `id` has ended so far: for a bidirectional stream, the
   * opener's sending direction first. Undefined for a stream never opened.
   */
  streamEnds(id: number): StreamEnds[] | undefined {
    return this.#byId.get(id)?.map((pipe) => ({ ...pipe.ends }));
  }

  /** The client moves to `addr` (a migration or NAT rebinding); the server sees it at once. */
  migrate(addr: QuicAddr): void {
    this.server.remoteAddr = { ...addr };
  }

  /** Ends the connection as an idle timeout does: both sides' `closed` reject. */
  idleTimeout(): void {
    this.end(new Error("connection timed out (idle timeout)"));
  }

  /** Ends the connection once, for both sides. */
  end(outcome: QuicCloseInfo | Error): void {
    if (this.#ended !== undefined) return;
    this.#ended = outcome;
    const error = new ConnectionClosedError(
      outcome instanceof Error ? outcome.message : `code ${outcome.closeCode} ${outcome.reason}`,
    );
    for (const pipe of this.#open) pipe.fail(error);
    this.#open.clear();
    this.client.end(outcome);
    this.server.end(outcome);
  }

  /** Throws if the connection has ended (no new streams then). */
  assertOpen(): void {
    if (this.#ended !== undefined) throw new ConnectionClosedError("no new streams");
  }

  /** A new stream direction, tracked until it ends. */
  pipe(id: number): Pipe {
    const pipe = new Pipe(id, this.#window, (p) => this.#open.delete(p));
    this.#open.add(pipe);
    const pipes = this.#byId.get(id);
    if (pipes === undefined) this.#byId.set(id, [pipe]);
    else pipes.push(pipe);
    return pipe;
  }
}
