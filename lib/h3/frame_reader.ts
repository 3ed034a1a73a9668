/**
 * A streaming, sans-IO reader of the HTTP/3 frames on one QUIC stream (RFC 9114 §7) that also
 * enforces which frames may appear where (§4.1; the control stream's rules, §6.2.1 and §7.2, are
 * in `control_frames.ts`). `push()` stream bytes, call
 * `next()` until it returns null, and `end()` at FIN. A broken rule throws an H3Error whose
 * `code` and `scope` say what to send; the reader then stays failed and rethrows it.
 *
 * No avoidable copies: a HEADERS or control payload inside one pushed chunk is returned as a
 * view of it; DATA is streamed as views of pushed chunks, never buffered; only a non-DATA
 * payload that straddles chunks is copied, into a buffer of exactly its size. Unknown and
 * grease frames are skipped unstored, however long. Events may be views, so a pushed chunk
 * must not change until `next()` has returned null.
 *
 * ```ts
 * const r = new FrameReader({ kind: "request", maxHeadersPayload: 16384 });
 * r.push(chunk);
 * for (let ev = r.next(); ev !== null; ev = r.next()) handle(ev);
 * ```
 * @module
 */

import { type ControlFrameEvent, ControlStreamRules } from "./control_frames.ts";
import {
  H3_CLOSED_CRITICAL_STREAM,
  H3_EXCESSIVE_LOAD,
  H3_FRAME_ERROR,
  H3_FRAME_UNEXPECTED,
  H3_MESSAGE_ERROR,
  H3_REQUEST_INCOMPLETE,
  H3Error,
} from "./errors.ts";
import {
  FRAME_CANCEL_PUSH,
  FRAME_DATA,
  FRAME_GOAWAY,
  FRAME_HEADERS,
  FRAME_MAX_PUSH_ID,
  FRAME_PUSH_PROMISE,
  FRAME_SETTINGS,
  frameTypeName,
  isReservedHttp2FrameType,
} from "./frame.ts";
import { readVarint, varintLength } from "./varint.ts";

/**
 * Which stream is read: "request" is a request stream read by the server, "response" a
 * request stream read by the client, "control" a peer's control stream (after its type byte).
 */
export type FrameReaderKind = "request" | "response" | "control";

/** Options for a {@linkcode FrameReader}. */
export interface FrameReaderOptions {
  /** Which stream is read. */
  kind: FrameReaderKind;
  /**
   * Largest HEADERS payload (encoded field section) accepted. A larger one is refused from its
   * frame header, before any of it is buffered, with a stream error of type H3_EXCESSIVE_LOAD.
   */
  maxHeadersPayload: number;
  /** Largest SETTINGS payload accepted on a control stream; default 16 KiB. */
  maxControlPayload?: number;
  /** Our side, for "control" only; default "server". A client refuses MAX_PUSH_ID (§7.2.7). */
  role?: "server" | "client";
}

/**
 * What {@linkcode FrameReader.next} returns. "headers" carries a complete encoded field section,
 * with `trailers` true for the trailer section; "data" carries some of a DATA frame's content,
 * never empty (one frame may come as several events); the others carry decoded control frames.
 */
export type FrameEvent =
  | { type: "headers"; payload: Uint8Array; trailers: boolean }
  | { type: "data"; payload: Uint8Array }
  | ControlFrameEvent;

const DEFAULT_MAX_CONTROL_PAYLOAD = 16384;
const EMPTY = new Uint8Array(0);

// Where the reader is inside the current frame.
const S_HEADER = 0; // reading a frame header
const S_PAYLOAD = 1; // gathering a whole payload (HEADERS, SETTINGS, ...)
const S_DATA = 2; // streaming a DATA payload
const S_SKIP = 3; // discarding an unknown frame's payload

// Where a request or response message is (§4.1).
const P_START = 0; // no header section yet
const P_BODY = 1; // header section seen: DATA or trailers may follow
const P_DONE = 2; // trailers seen: no DATA or HEADERS may follow

/** Reads the frames of one stream; see the module documentation. */
export class FrameReader {
  readonly #kind: FrameReaderKind;
  readonly #maxHeadersPayload: number;
  /** The control stream's rules, for a "control" reader only. */
  readonly #control: ControlStreamRules | null;

  // Pushed chunks not yet consumed; #queue[#head] is read from #pos.
  #queue: Uint8Array[] = [];
  #head = 0;
  #pos = 0;

  #state = S_HEADER;
  #hdr: Uint8Array | null = null; // a frame header that straddles chunks (rare: made on demand)
  #hdrLen = 0;
  #type = 0;
  #length = 0; // the current frame's payload length
  #remaining = 0; // DATA or skipped bytes still to come
  #buf: Uint8Array | null = null; // a payload that straddles chunks
  #filled = 0;

  #phase = P_START;
  #afterHeaderSection = false;
  #ended = false;
  #error: H3Error | null = null;

  /** Creates a reader for one stream. */
  constructor(options: FrameReaderOptions) {
    this.#kind = options.kind;
    this.#maxHeadersPayload = options.maxHeadersPayload;
    this.#control = options.kind !== "control" ? null : new ControlStreamRules(
      options.role ?? "server",
      options.maxControlPayload ?? DEFAULT_MAX_CONTROL_PAYLOAD,
    );
  }

  /** Bytes the reader holds in its own copies: a partial frame header or payload. */
  get bufferedBytes(): number {
    return this.#hdrLen + (this.#buf === null ? 0 : this.#filled);
  }

  /** True while the reader still references a pushed chunk (so it must not be reused yet). */
  get holdsChunks(): boolean {
    return this.#queue.length !== 0;
  }

  /**
   * Adds bytes received on the stream. The reader keeps a reference, not a copy: do not change
   * `chunk` until {@linkcode FrameReader.next} has returned null.
   */
  push(chunk: Uint8Array): void {
    if (this.#ended) throw new Error("FrameReader.push() after end()");
    if (chunk.length !== 0) this.#queue.push(chunk);
  }

  /**
   * Returns the next event, or null when more bytes are needed. Throws an H3Error when the
   * stream breaks a framing rule; the reader is unusable after that and rethrows it.
   */
  next(): FrameEvent | null {
    if (this.#error !== null) throw this.#error;
    try {
      return this.#next();
    } catch (e) {
      if (e instanceof H3Error) this.#error = e;
      throw e;
    }
  }

  /**
   * Tells a "response" reader that the header section it just returned was an interim (1xx)
   * response, so the next HEADERS frame is another header section, not trailers (§4.1).
   * Call it before the next `next()`.
   */
  interimResponse(): void {
    if (this.#kind !== "response" || !this.#afterHeaderSection) {
      throw new Error("interimResponse() must follow a response header section");
    }
    this.#phase = P_START;
    this.#afterHeaderSection = false;
  }

  /**
   * Marks the end of the stream (FIN), after `next()` has returned null. Throws a connection
   * error H3_CLOSED_CRITICAL_STREAM for a control stream (§6.2.1), H3_FRAME_ERROR when the
   * stream ends inside a frame (§7.1), and a stream error when a message has no header
   * section: H3_REQUEST_INCOMPLETE for a request (§4.1), H3_MESSAGE_ERROR for a response.
   */
  end(): void {
    if (this.#error !== null) throw this.#error;
    if (this.#head < this.#queue.length) {
      throw new Error("FrameReader.end() with unread input: call next() until it returns null");
    }
    this.#ended = true;
    if (this.#kind === "control") {
      this.#error = connError(H3_CLOSED_CRITICAL_STREAM, "control stream closed");
    } else if (this.#state !== S_HEADER || this.#hdrLen !== 0) {
      this.#error = connError(H3_FRAME_ERROR, "stream ended inside a frame");
    } else if (this.#phase === P_START) {
      this.#error = this.#kind === "request"
        ? new H3Error(H3_REQUEST_INCOMPLETE, "stream", "request stream ended before HEADERS")
        : new H3Error(H3_MESSAGE_ERROR, "stream", "response stream ended before a final HEADERS");
    }
    if (this.#error !== null) throw this.#error;
  }

  #next(): FrameEvent | null {
    for (;;) {
      switch (this.#state) {
        case S_HEADER: {
          if (!this.#readHeader()) return null;
          this.#afterHeaderSection = false;
          if (this.#control === null) this.#startMessageFrame();
          else if (this.#control.start(this.#type, this.#length)) this.#state = S_PAYLOAD;
          else this.#stream(this.#length, S_SKIP);
          break;
        }
        case S_PAYLOAD: {
          const payload = this.#readPayload();
          if (payload === null) return null;
          this.#state = S_HEADER;
          return this.#finishFrame(payload);
        }
        default: { // S_DATA or S_SKIP: pass on or drop what has arrived, never buffering it
          const chunk = this.#current();
          if (chunk === null) return null;
          const at = this.#pos;
          const avail = chunk.length - at;
          const n = avail < this.#remaining ? avail : this.#remaining;
          const skipping = this.#state === S_SKIP;
          this.#advance(n);
          this.#remaining -= n;
          if (this.#remaining === 0) this.#state = S_HEADER;
          if (!skipping) return { type: "data", payload: chunk.subarray(at, at + n) };
        }
      }
    }
  }

  #current(): Uint8Array | null {
    return this.#head < this.#queue.length ? this.#queue[this.#head] : null;
  }

  #advance(n: number): void {
    this.#pos += n;
    if (this.#pos === this.#queue[this.#head].length) {
      this.#pos = 0;
      if (++this.#head === this.#queue.length) {
        this.#queue.length = 0;
        this.#head = 0;
      }
    }
  }

  /** Reads a frame header into #type and #length; false when more bytes are needed. */
  #readHeader(): boolean {
    if (this.#hdrLen === 0) {
      const chunk = this.#current();
      if (chunk === null) return false;
      const p = this.#pos;
      const avail = chunk.length - p;
      const typeSize = varintLength(chunk[p]);
      if (avail > typeSize) {
        const size = typeSize + varintLength(chunk[p + typeSize]);
        if (avail >= size) { // common case: the whole header is in this chunk
          this.#type = readVarint(chunk, p);
          this.#length = readVarint(chunk, p + typeSize);
          this.#advance(size);
          return true;
        }
      }
    }
    // Rare: the header straddles chunks. Gather it byte by byte (at most 16) into #hdr.
    const hdr = this.#hdr ??= new Uint8Array(16);
    for (;;) {
      if (this.#hdrLen !== 0) {
        const typeSize = varintLength(hdr[0]);
        if (this.#hdrLen > typeSize && this.#hdrLen === typeSize + varintLength(hdr[typeSize])) {
          this.#type = readVarint(hdr, 0);
          this.#length = readVarint(hdr, typeSize);
          this.#hdrLen = 0;
          return true;
        }
      }
      const chunk = this.#current();
      if (chunk === null) return false;
      hdr[this.#hdrLen++] = chunk[this.#pos];
      this.#advance(1);
    }
  }

  /** Returns the whole current payload once it has arrived, else null (copying it if split). */
  #readPayload(): Uint8Array | null {
    const length = this.#length;
    if (this.#buf === null) {
      if (length === 0) return EMPTY;
      const chunk = this.#current();
      if (chunk === null) return null;
      if (chunk.length - this.#pos >= length) { // common case: a view, no copy
        const view = chunk.subarray(this.#pos, this.#pos + length);
        this.#advance(length);
        return view;
      }
      this.#buf = new Uint8Array(length);
      this.#filled = 0;
    }
    const buf = this.#buf;
    for (;;) {
      const chunk = this.#current();
      if (chunk === null) return null;
      const avail = chunk.length - this.#pos;
      const n = length - this.#filled < avail ? length - this.#filled : avail;
      buf.set(chunk.subarray(this.#pos, this.#pos + n), this.#filled);
      this.#filled += n;
      this.#advance(n);
      if (this.#filled === length) {
        this.#buf = null;
        return buf;
      }
    }
  }

  /** Checks a request or response stream frame from its header and picks the next state. */
  #startMessageFrame(): void {
    const type = this.#type;
    const length = this.#length;
    switch (type) {
      case FRAME_DATA:
        // §4.1: DATA before the header section or after the trailers is an invalid sequence.
        if (this.#phase !== P_BODY) {
          throw unexpected(this.#phase === P_START ? "DATA before HEADERS" : "DATA after trailers");
        }
        this.#stream(length, S_DATA);
        return;
      case FRAME_HEADERS:
        if (this.#phase === P_DONE) throw unexpected("HEADERS after trailers");
        // §7.1: every field section starts with the QPACK prefix, so none can be empty.
        if (length === 0) throw connError(H3_FRAME_ERROR, "empty HEADERS frame");
        // §10.5.1 and §8.1: a field section too large to process is refused before it is
        // buffered. A stream error, so a server can still answer 431 (§4.2.2) on this stream.
        if (length > this.#maxHeadersPayload) {
          throw new H3Error(H3_EXCESSIVE_LOAD, "stream", `${length}-byte HEADERS payload`, 431);
        }
        this.#state = S_PAYLOAD;
        return;
      case FRAME_PUSH_PROMISE:
        // §7.2.5: a server MUST treat PUSH_PROMISE as H3_FRAME_UNEXPECTED; a client that never
        // sent MAX_PUSH_ID (this one) cannot accept any either.
        throw unexpected("PUSH_PROMISE on a request stream");
      case FRAME_CANCEL_PUSH:
      case FRAME_SETTINGS:
      case FRAME_GOAWAY:
      case FRAME_MAX_PUSH_ID:
        throw unexpected(`${frameTypeName(type)} on a request stream`);
      default:
        if (isReservedHttp2FrameType(type)) throw unexpected(`reserved HTTP/2 frame type ${type}`);
        this.#stream(length, S_SKIP);
    }
  }

  /** Passes on (S_DATA) or drops (S_SKIP) the next `length` bytes without buffering them. */
  #stream(length: number, state: number): void {
    this.#remaining = length;
    this.#state = length === 0 ? S_HEADER : state;
  }

  #finishFrame(payload: Uint8Array): FrameEvent {
    if (this.#control !== null) return this.#control.finish(this.#type, payload);
    // On a request or response stream, only HEADERS is read whole.
    if (this.#phase === P_START) {
      this.#phase = P_BODY;
      this.#afterHeaderSection = true;
      return { type: "headers", payload, trailers: false };
    }
    this.#phase = P_DONE;
    return { type: "headers", payload, trailers: true };
  }
}

function connError(code: number, detail: string): H3Error {
  return new H3Error(code, "connection", detail);
}

function unexpected(detail: string): H3Error {
  return connError(H3_FRAME_UNEXPECTED, detail);
}
