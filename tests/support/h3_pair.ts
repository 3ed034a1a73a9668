/**
 * An HTTP/3 server connection (`H3ServerConnection`) on one side of an in-memory QUIC pair, on
 * a fake clock, with a raw HTTP/3 peer (`RawH3`) on the other side: the connection-level tests'
 * harness. It records the protocol errors the server reports and the frames of the server's
 * control stream (SETTINGS, GOAWAY) as the client sees them.
 *
 * ```ts
 * const h = await H3Pair.start(handler);
 * const out = await within(h.raw.request([headersFrame(h.raw.requestFields("/"))]));
 * await h.stop();
 * ```
 * @module
 */

import type { H3Error } from "../../lib/h3/errors.ts";
import { type FrameEvent, FrameReader } from "../../lib/h3/frame_reader.ts";
import { type H3Handler, H3ServerConnection, type H3ServerOptions } from "../../lib/h3/server.ts";
import { STREAM_TYPE_CONTROL } from "../../lib/h3/stream_type.ts";
import type { QuicCloseInfo } from "../../lib/h3/transport.ts";
import { readUniStreamType } from "../../lib/h3/uni_stream.ts";
import { RawH3 } from "./raw_h3.ts";
import { FakeClock } from "./fake_clock.ts";
import { MemoryQuicPair } from "./memory_quic.ts";

/** Safety bound on waiting for an event that should come at once; never a synchronization. */
export const BOUND_MS = 5000;

/** Resolves as `promise` does, or rejects after `ms` of real time naming `what`. */
export async function within<T>(promise: Promise<T>, what = "event", ms = BOUND_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, bound]);
  } finally {
    clearTimeout(timer);
  }
}

/** Options for {@linkcode H3Pair.start}. */
export interface H3PairOptions {
  /** Server options; the fake clock and the error recorder are added. */
  server?: H3ServerOptions;
  /** Whether the raw client opens its control stream with SETTINGS first (default true). */
  control?: boolean;
}

/** A server and a raw client on an in-memory pair; see the module documentation. */
export class H3Pair {
  readonly pair = new MemoryQuicPair();
  readonly clock = new FakeClock();
  readonly h3: H3ServerConnection<undefined>;
  readonly raw: RawH3;
  /** Protocol errors the server reported, in order. */
  readonly errors: Array<{ error: H3Error; where: "stream" | "connection" }> = [];
  /** Frames of the server's control stream, in order, as they arrive. */
  readonly controlFrames: FrameEvent[] = [];
  /** Resolves when the server's `serve()` returns. */
  readonly served: Promise<QuicCloseInfo>;
  #controlFrame: (() => void) | undefined;

  private constructor(handler: H3Handler<undefined>, options: H3ServerOptions) {
    this.h3 = new H3ServerConnection(this.pair.server, handler, undefined, {
      ...options,
      clock: this.clock,
      onProtocolError: (error, where) => this.errors.push({ error, where }),
    });
    this.raw = RawH3.over(this.pair.client, "localhost:443");
    this.served = this.h3.serve();
    this.#readServerStreams().catch(() => {});
  }

  /** Starts the server and (unless told not to) opens the client's control stream. */
  static async start(handler: H3Handler<undefined>, options: H3PairOptions = {}): Promise<H3Pair> {
    const h = new H3Pair(handler, options.server ?? {});
    if (options.control ?? true) await h.raw.openControl();
    return h;
  }

  /** Waits until the server's control stream has carried a frame matching `match`. */
  async controlFrame(match: (frame: FrameEvent) => boolean, what: string): Promise<FrameEvent> {
    for (let i = 0; i < 100; i++) {
      const found = this.controlFrames.find(match);
      if (found !== undefined) return found;
      await within(new Promise<void>((resolve) => (this.#controlFrame = resolve)), what);
    }
    throw new Error(`${what}: not among ${this.controlFrames.length} control frames`);
  }

  /** Waits for the connection to close and returns how the client saw it end. */
  closed(): Promise<QuicCloseInfo> {
    return within(this.pair.client.closed, "connection close");
  }

  /** Closes the connection if still open and waits for the server to finish. */
  async stop(): Promise<void> {
    this.pair.client.close({ closeCode: 0x100, reason: "test over" });
    await within(this.served, "server finished");
  }

  /** Reads the server's unidirectional streams: its control stream's frames are recorded. */
  async #readServerStreams(): Promise<void> {
    const streams = this.pair.client.incomingUnidirectionalStreams.getReader();
    for (let n = 0; n < 16; n++) { // the server opens one control stream, no QPACK streams
      const { value, done } = await streams.read();
      if (done) return;
      this.#readControl(value).catch(() => {});
    }
  }

  async #readControl(stream: ReadableStream<Uint8Array>): Promise<void> {
    const reader = stream.getReader();
    const typed = await readUniStreamType(reader);
    if (typed === null || typed.type !== STREAM_TYPE_CONTROL) return;
    const frames = new FrameReader({ kind: "control", maxHeadersPayload: 0, role: "client" });
    let chunk: Uint8Array | undefined = typed.rest;
    for (;;) {
      frames.push(chunk);
      for (let frame = frames.next(); frame !== null; frame = frames.next()) {
        this.controlFrames.push(frame);
        this.#controlFrame?.();
      }
      const next = await reader.read();
      if (next.done) return;
      chunk = next.value;
    }
  }
}
