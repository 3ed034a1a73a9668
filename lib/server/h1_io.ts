/**
 * Byte I/O of one HTTP/1.1 connection over a `node:tls` socket: a bounded receive buffer (once it
 * holds enough unread bytes the socket is paused until the parser asks for more, so a body nobody
 * reads stops the TCP reads too, see `tls_read_backpressure.ts`, and the client's sends stall in
 * TCP, not in our memory), reads that give up after a time, writes that close the connection
 * when the client does not take them in time, and a close that lets a final answer reach the
 * client.
 * @module
 */

import type { TLSSocket } from "node:tls";

/** How one wait for bytes ended. */
export type ReadResult = "data" | "eof" | "timeout";

/**
 * How long a closing connection keeps reading (and dropping) what its client still sends after
 * our final answer: closing at once with unread input makes the kernel send a reset, which can
 * destroy the answer before the client reads it.
 */
const CLOSE_LINGER_MS = 2000;
const EMPTY = new Uint8Array(0);
/** Parts smaller than this in all are copied into one array for one write. */
const JOIN_BELOW_BYTES = 16 * 1024;
/** Unread bytes at which the socket stops reading until the parser asks for more. */
const PAUSE_AT_BYTES = 64 * 1024;

/** Buffered reads and flow-controlled writes on one connection. */
export class ConnectionIO {
  /** Received bytes not yet consumed are `buffer[start, end)`; never written to in place. */
  buffer: Uint8Array = EMPTY;
  start = 0;
  end = 0;
  /** True once the socket failed (a reset, a TLS error) rather than closed. */
  failed = false;
  readonly #socket: TLSSocket;
  /** Data arrived that no `readMore` has reported yet. */
  #unseen = false;
  #ended = false;
  #wake: ((result: ReadResult) => void) | undefined;
  /** When the current wait times out (`Date.now()` time). */
  #waitUntil = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When `#timer` fires. */
  #timerDue = 0;
  #closing: Promise<void> | undefined;

  /** @param socket the connection, secure; @param sendTimeoutMs how long a write may wait */
  constructor(socket: TLSSocket, readonly sendTimeoutMs: number) {
    this.#socket = socket;
    socket.on("data", (chunk: Uint8Array) => {
      this.#append(chunk);
      // Paused only once enough waits unread: pausing and resuming for every request would cost
      // two native calls each time, and this much bounds what one connection holds.
      if (this.end - this.start >= PAUSE_AT_BYTES) this.#socket.pause();
      this.#unseen = true;
      this.#notify("data");
    });
    socket.on("end", () => this.#finish());
    socket.on("close", () => this.#finish());
    socket.on("error", () => {
      this.failed = true;
      this.#finish();
    });
  }

  /** Whether the connection is gone (closed by either side, or failed). */
  get closed(): boolean {
    return this.#socket.destroyed;
  }

  /** Bytes buffered and not yet consumed. */
  get buffered(): number {
    return this.end - this.start;
  }

  /** Marks `n` buffered bytes as consumed. */
  consume(n: number): void {
    this.start += n;
    if (this.start === this.end) {
      this.buffer = EMPTY; // the chunk is not kept alive by an empty buffer
      this.start = this.end = 0;
      this.#unseen = false; // what arrived is all used
    }
  }

  /** Waits up to `timeoutMs` for more bytes and appends them to the buffer. */
  readMore(timeoutMs: number): Promise<ReadResult> {
    return this.readUntil(Date.now() + timeoutMs);
  }

  /**
   * Waits until `deadline` (a `Date.now()` time) at most for more bytes and appends them to the
   * buffer. With a deadline a caller computed once, a wait reads no clock of its own.
   */
  readUntil(deadline: number): Promise<ReadResult> {
    if (this.#unseen) {
      this.#unseen = false;
      return Promise.resolve("data");
    }
    if (this.#ended || this.#socket.destroyed) return Promise.resolve("eof");
    return new Promise<ReadResult>((resolve) => {
      this.#waitUntil = deadline;
      // One timer per connection, kept across waits and moved on only when it fires early:
      // a timer made and cancelled for every request would cost more than the rest of a wait.
      if (this.#timer !== undefined && this.#timerDue > deadline) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
      }
      if (this.#timer === undefined) this.#arm(deadline - Date.now());
      this.#wake = (result) => {
        if (result !== "timeout") this.#unseen = false;
        resolve(result);
      };
      if (this.#socket.isPaused()) this.#socket.resume();
    });
  }

  #arm(ms: number): void {
    this.#timerDue = Date.now() + ms;
    this.#timer = setTimeout(this.#checkWait, ms);
  }

  #checkWait = (): void => {
    this.#timer = undefined;
    if (this.#wake === undefined) return;
    const left = this.#waitUntil - Date.now();
    if (left > 0) this.#arm(left);
    else this.#notify("timeout");
  };

  #notify(result: ReadResult): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.(result);
  }

  #finish(): void {
    this.#ended = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#notify("eof");
  }

  /**
   * Buffers are never written after they are made: a chunk that arrives to an empty buffer
   * becomes the buffer (no copy), else the two are joined into a new one. So views handed out
   * (body chunks) stay valid without a copy.
   */
  #append(bytes: Uint8Array): void {
    if (this.start === this.end) {
      this.buffer = bytes;
      this.start = 0;
      this.end = bytes.length;
      return;
    }
    const joined = new Uint8Array(this.end - this.start + bytes.length);
    joined.set(this.buffer.subarray(this.start, this.end), 0);
    joined.set(bytes, this.end - this.start);
    this.buffer = joined;
    this.start = 0;
    this.end = joined.length;
  }

  /**
   * Queues `parts`, in order; resolves at once when the socket takes them, else once it drained.
   * Rejects, with the connection closed, when it has not drained within the send timeout or is
   * gone. Small parts are joined first: one write costs less than a vectored one in `node:tls`.
   */
  write(...parts: Uint8Array[]): Promise<void> {
    const socket = this.#socket;
    if (socket.destroyed) return Promise.reject(new Error("the connection is closed"));
    let taken: boolean;
    if (parts.length === 1) taken = socket.write(parts[0]);
    else if (sizeOf(parts) <= JOIN_BELOW_BYTES) taken = socket.write(joined(parts));
    else {
      // Large parts are not copied: corked, they leave in one vectored write.
      socket.cork();
      for (const part of parts) taken = socket.write(part);
      socket.uncork();
    }
    if (taken!) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer);
        socket.off("drain", drained);
        socket.off("close", closed);
        if (error === undefined) resolve();
        else reject(error);
      };
      const drained = () => done();
      const closed = () => done(new Error("the connection closed"));
      const timer = setTimeout(() => {
        socket.destroy();
        done(new Error("the client did not read the answer in time"));
      }, this.sendTimeoutMs);
      socket.once("drain", drained);
      socket.once("close", closed);
    });
  }

  /** Closes the connection at once (idempotent). */
  close(): void {
    this.#socket.destroy();
  }

  /**
   * Closes after what was written: ends our side (the client reads to its end), then drops what
   * the client still sends until it closes too, or for a short linger at most.
   */
  closeGracefully(): Promise<void> {
    return this.#closing ??= new Promise<void>((resolve) => {
      const socket = this.#socket;
      if (socket.destroyed) {
        resolve();
        return;
      }
      const timer = setTimeout(() => socket.destroy(), CLOSE_LINGER_MS);
      socket.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.removeAllListeners("data");
      socket.on("data", () => {}); // dropped
      socket.once("end", () => socket.destroy());
      socket.resume();
      socket.end();
    });
  }
}

function sizeOf(parts: Uint8Array[]): number {
  let size = 0;
  for (const part of parts) size += part.length;
  return size;
}

/** The parts, one after another, in one array. */
export function joined(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(sizeOf(parts));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
