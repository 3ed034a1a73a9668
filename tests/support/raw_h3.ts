/**
 * A raw HTTP/3 peer for malformed-peer tests: a QUIC connection (a `Deno.QuicConn`, or one
 * side of the in-memory pair in `support/memory_quic.ts`) on which a test writes whatever
 * bytes it likes (control streams with or without SETTINGS, unidirectional streams of any type,
 * request streams with arbitrary frames) and reads back the server's response frames or the
 * code the connection was closed with.
 *
 * ```ts
 * const raw = await RawH3.connect(port, caPem);
 * await raw.openControl();
 * const out = await raw.request([headersFrame(raw.requestFields())]);
 * raw.close();
 * ```
 * @module
 */

import { concat } from "./h3_assert.ts";
import { encodeFrame, FRAME_HEADERS } from "../../lib/h3/frame.ts";
import { FrameReader } from "../../lib/h3/frame_reader.ts";
import { decodeFieldSection, encodeFieldSection } from "../../lib/h3/qpack/mod.ts";
import { defaultLocalSettings, encodeSettings } from "../../lib/h3/settings.ts";
import { STREAM_TYPE_CONTROL } from "../../lib/h3/stream_type.ts";
import type { QuicConnection } from "../../lib/h3/transport.ts";

/** How a connection ended: an application close (with its code) or a transport failure. */
export type CloseOutcome =
  | { kind: "application"; closeCode: number; reason: string }
  | { kind: "transport"; message: string };

/** A complete response read from a request stream. */
export interface RawResponse {
  kind: "response";
  status: number;
  /** Regular fields by name (last value wins). */
  headers: Map<string, string>;
  body: Uint8Array;
}

/** What a request stream produced: a response, or nothing before it failed or ended. */
export type RequestOutcome = RawResponse | { kind: "aborted"; error: string };

/** A unidirectional stream we opened and keep open until told otherwise. */
export interface RawUniStream {
  /** Writes more bytes. */
  write(bytes: Uint8Array): Promise<void>;
  /** Ends the stream (FIN). */
  close(): Promise<void>;
}

/** A request stream whose sending side the test still controls. */
export interface RawRequest {
  write(bytes: Uint8Array): Promise<void>;
  /** Ends our side (FIN). */
  close(): Promise<void>;
  /** The server's answer; never rejects. */
  readonly response: Promise<RequestOutcome>;
}

export { concat };

/** A HEADERS frame carrying `fields` (flat `[name, value, …]`), QPACK-encoded static-only. */
export function headersFrame(fields: string[]): Uint8Array {
  return encodeFrame(FRAME_HEADERS, encodeFieldSection(fields));
}

/** Our SETTINGS frame, as a well-behaved client sends it. */
export function settingsFrame(): Uint8Array {
  return encodeSettings(defaultLocalSettings());
}

/** A raw HTTP/3 client connection; see the module documentation. */
export class RawH3 {
  /** The QUIC connection, for anything the helpers do not cover. */
  readonly conn: QuicConnection;
  /** `host:port` for `:authority`. */
  readonly authority: string;
  /** Resolves with how the connection ended; never rejects. */
  readonly closed: Promise<CloseOutcome>;
  #done: CloseOutcome | undefined;
  /** Every writer we opened: held so that no stream is closed by garbage collection. */
  readonly #writers: WritableStreamDefaultWriter<Uint8Array>[] = [];

  private constructor(conn: QuicConnection, authority: string) {
    this.conn = conn;
    this.authority = authority;
    this.closed = conn.closed.then(
      (info): CloseOutcome => ({ kind: "application", ...info }),
      (error): CloseOutcome => ({ kind: "transport", message: String(error) }),
    ).then((outcome) => (this.#done = outcome));
  }

  /** A raw peer on an established connection (an in-memory one, say). */
  static over(conn: QuicConnection, authority: string): RawH3 {
    return new RawH3(conn, authority);
  }

  /** Connects to the test server on 127.0.0.1 with ALPN h3, trusting `caPem`. */
  static async connect(port: number, caPem: string): Promise<RawH3> {
    const conn = await Deno.connectQuic({
      hostname: "127.0.0.1",
      port,
      serverName: "localhost",
      caCerts: [caPem],
      alpnProtocols: ["h3"],
    });
    return new RawH3(conn, `localhost:${port}`);
  }

  /** Whether the connection is still open, as far as we have been told. */
  get isOpen(): boolean {
    return this.#done === undefined;
  }

  /** The pseudo-headers of a well-formed GET (or `method`) for `path`. */
  requestFields(path = "/api/test", method = "GET"): string[] {
    return [":method", method, ":scheme", "https", ":authority", this.authority, ":path", path];
  }

  /**
   * Opens a unidirectional stream and writes `bytes` (stream type included). The stream stays
   * open, held for the connection's life, unless `fin` is set.
   */
  async openUni(bytes: Uint8Array, fin = false): Promise<RawUniStream> {
    const writer = (await this.conn.createUnidirectionalStream()).getWriter();
    this.#writers.push(writer);
    if (bytes.length > 0) await writer.write(bytes);
    if (fin) await writer.close();
    return { write: (b) => writer.write(b), close: () => writer.close() };
  }

  /**
   * Opens our control stream: the type byte, then SETTINGS unless `settings` is false, then
   * `extra` bytes (further frames).
   */
  openControl(settings = true, extra: Uint8Array = new Uint8Array(0)): Promise<RawUniStream> {
    const type = Uint8Array.of(STREAM_TYPE_CONTROL);
    return this.openUni(settings ? concat(type, settingsFrame(), extra) : concat(type, extra));
  }

  /**
   * Opens a request stream and writes each chunk in order (as separate writes), ending the
   * stream unless `fin` is false. The response is read as it comes.
   */
  async startRequest(chunks: Uint8Array[], fin = true): Promise<RawRequest> {
    const stream = await this.conn.createBidirectionalStream();
    const writer = stream.writable.getWriter();
    this.#writers.push(writer);
    const response = readResponse(stream.readable);
    for (const chunk of chunks) await writer.write(chunk);
    if (fin) await writer.close();
    return { write: (b) => writer.write(b), close: () => writer.close(), response };
  }

  /** Sends a whole request (see `startRequest`) and waits for its outcome. */
  async request(chunks: Uint8Array[]): Promise<RequestOutcome> {
    try {
      return await (await this.startRequest(chunks)).response;
    } catch (error) {
      return { kind: "aborted", error: String(error) };
    }
  }

  /**
   * Waits for the connection to close, at most `timeoutMs` (a safety bound: the event is the
   * close itself). Returns null if it is still open then.
   */
  async closedWithin(timeoutMs: number): Promise<CloseOutcome | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<null>((
      resolve,
    ) => (timer = setTimeout(() => resolve(null), timeoutMs)));
    try {
      return await Promise.race([this.closed, bound]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the connection (code 0) if still open and waits until it is closed. */
  async close(): Promise<void> {
    try {
      this.conn.close({ closeCode: 0, reason: "" });
    } catch {
      // already closed
    }
    await this.closed;
  }
}

/**
 * Reads a response: HEADERS (interim ones skipped), then DATA to the end of the stream.
 * Resolves with "aborted" when the stream fails or ends before a final header section.
 */
async function readResponse(readable: ReadableStream<Uint8Array>): Promise<RequestOutcome> {
  const reader = readable.getReader();
  const frames = new FrameReader({ kind: "response", maxHeadersPayload: 65536 });
  let head: { status: number; headers: Map<string, string> } | undefined;
  const body: Uint8Array[] = [];
  try {
    for (;;) {
      const event = frames.next();
      if (event === null) {
        const { value, done } = await reader.read();
        if (done) break;
        frames.push(value);
        continue;
      }
      if (event.type === "data") {
        body.push(event.payload.slice());
      } else if (event.type === "headers" && !event.trailers) {
        const fields = decodeFieldSection(event.payload, 65536);
        const headers = new Map<string, string>();
        let status = 0;
        for (let i = 0; i < fields.length; i += 2) {
          if (fields[i] === ":status") status = Number(fields[i + 1]);
          else headers.set(fields[i], fields[i + 1]);
        }
        if (status < 200) frames.interimResponse();
        else head = { status, headers };
      }
    }
  } catch (error) {
    return { kind: "aborted", error: String(error) };
  }
  if (head === undefined) return { kind: "aborted", error: "stream ended before a response" };
  return { kind: "response", status: head.status, headers: head.headers, body: concat(...body) };
}
