/**
 * A small HTTP/3 client over `Deno.connectQuic`, on the same codec as the server: GET and POST,
 * streaming bodies both ways, many requests on one connection. For tests, the command line and
 * benchmarks.
 *
 * ```ts
 * const client = await H3Client.connect({ hostname: "127.0.0.1", port: 9443,
 *   serverName: "localhost", caCerts: [caPem] });
 * const res = await client.fetch("/api/test");
 * console.log(await res.json());
 * client.close();
 * ```
 * @module
 */

import { DataFrameSource, encodeHeadersFrame, writeBody } from "./body.ts";
import { H3_CLOSED_CRITICAL_STREAM, H3_NO_ERROR, H3Error } from "./errors.ts";
import { FrameReader } from "./frame_reader.ts";
import { parseResponseHead } from "./message.ts";
import { decodeFieldSection } from "./qpack/mod.ts";
import { openControlStream, readUniStreamType } from "./uni_stream.ts";
import type { QuicCloseInfo, QuicConnection } from "./transport.ts";

/** Where and how to connect. */
export interface H3ConnectOptions {
  hostname: string;
  port: number;
  /** TLS server name (SNI) and the `:authority` host; defaults to `hostname`. */
  serverName?: string;
  /** Extra trusted root certificates (PEM). */
  caCerts?: string[];
  /** Reuse an endpoint (its local UDP socket). */
  endpoint?: Deno.QuicEndpoint;
  keepAliveInterval?: number;
  maxIdleTimeout?: number;
  maxFieldSectionSize?: number;
}

/** Request options, a subset of `RequestInit`. */
export interface H3RequestInit {
  method?: string;
  headers?: HeadersInit;
  body?: BodyInit | null;
}

const MAX_FIELD_SECTION_SIZE = 64 * 1024;

/** Each streamed response's body source, where its trailer section lands once read. */
const bodySources = new WeakMap<Response, DataFrameSource>();

/**
 * The trailer fields of a response from `H3Client.fetch`, once its body has been read to the
 * end; null before that, or when the server sent none.
 */
export function receivedTrailers(response: Response): Headers | null {
  const trailers = bodySources.get(response)?.trailers;
  return trailers === undefined ? null : new Headers(trailers);
}

/** An HTTP/3 client connection. Holds its control stream open for the connection's life. */
export class H3Client {
  readonly #conn: QuicConnection;
  readonly #authority: string;
  readonly #maxFieldSectionSize: number;
  #controlWriter: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #goawayId: number | undefined;
  /** Resolves with how the connection ended; never rejects. */
  readonly closed: Promise<QuicCloseInfo>;

  /** Wraps an established QUIC connection; prefer `H3Client.connect`. */
  constructor(
    conn: QuicConnection,
    authority: string,
    maxFieldSectionSize = MAX_FIELD_SECTION_SIZE,
  ) {
    this.#conn = conn;
    this.#authority = authority;
    this.#maxFieldSectionSize = maxFieldSectionSize;
    this.closed = conn.closed.then(
      (info) => info,
      (error) => ({
        closeCode: -1,
        reason: error instanceof Error ? error.message : String(error),
      }),
    );
  }

  /** Connects, opens the control stream with SETTINGS, and starts reading the server's. */
  static async connect(options: H3ConnectOptions): Promise<H3Client> {
    const conn = await Deno.connectQuic({
      hostname: options.hostname,
      port: options.port,
      serverName: options.serverName,
      caCerts: options.caCerts,
      endpoint: options.endpoint,
      alpnProtocols: ["h3"],
      keepAliveInterval: options.keepAliveInterval,
      maxIdleTimeout: options.maxIdleTimeout,
    });
    const host = options.serverName ?? options.hostname;
    const client = new H3Client(conn, `${host}:${options.port}`, options.maxFieldSectionSize);
    await client.start();
    return client;
  }

  /** The GOAWAY stream ID the server sent, if any: requests at or above it were not served. */
  get goawayId(): number | undefined {
    return this.#goawayId;
  }

  /** The underlying QUIC connection. */
  get connection(): QuicConnection {
    return this.#conn;
  }

  /** Opens our control stream and reads the server's. */
  async start(): Promise<void> {
    this.#controlWriter = await openControlStream(this.#conn, this.#maxFieldSectionSize);
    this.#readUni().catch((error) => {
      if (error instanceof H3Error) this.close(error.code, error.message.slice(0, 100));
    });
  }

  async #readUni(): Promise<void> {
    const streams = this.#conn.incomingUnidirectionalStreams.getReader();
    for (;;) {
      const { value, done } = await streams.read();
      if (done) return;
      this.#serveUni(value).catch((error) => {
        if (error instanceof H3Error) this.close(error.code, error.message.slice(0, 100));
      });
    }
  }

  async #serveUni(stream: ReadableStream<Uint8Array>): Promise<void> {
    const reader = stream.getReader();
    const typed = await readUniStreamType(reader);
    if (typed === null) return;
    if (typed.kind !== "control") {
      // QPACK streams from a server that honours our capacity 0 carry nothing we act on;
      // unknown types are discarded.
      while (!(await reader.read()).done) { /* discard */ }
      return;
    }
    const frames = new FrameReader({ kind: "control", maxHeadersPayload: 0, role: "client" });
    let chunk: Uint8Array | undefined = typed.rest;
    for (;;) {
      if (chunk === undefined) {
        const next = await reader.read();
        if (next.done) break;
        chunk = next.value;
      }
      frames.push(chunk);
      chunk = undefined;
      for (let event = frames.next(); event !== null; event = frames.next()) {
        if (event.type === "goaway") this.#goawayId = event.id;
      }
    }
    throw new H3Error(H3_CLOSED_CRITICAL_STREAM, "connection", "server closed its control stream");
  }

  /**
   * Sends a request and resolves with the response once its header section arrives; the body
   * streams. `input` is a path (`/api/test`) or an absolute URL whose path is used.
   */
  async fetch(input: string | URL, init: H3RequestInit = {}): Promise<Response> {
    const url = typeof input === "string" && input.startsWith("/")
      ? new URL(input, `https://${this.#authority}`)
      : new URL(input);
    const method = (init.method ?? "GET").toUpperCase();
    const fields = [
      ":method",
      method,
      ":scheme",
      "https",
      ":authority",
      this.#authority,
      ":path",
      url.pathname + url.search,
    ];
    const body = init.body == null ? null : new Request(url, { method: "POST", body: init.body });
    const given = new Headers(init.headers);
    for (const [name, value] of given) fields.push(name, value);
    if (body && !given.has("content-type")) {
      const type = body.headers.get("content-type");
      if (type) fields.push("content-type", type);
    }
    const stream = await this.#conn.createBidirectionalStream({ waitUntilAvailable: true });
    const writer = stream.writable.getWriter();
    const headers = encodeHeadersFrame(fields);
    const sending = (async () => {
      if (body?.body) {
        writer.write(headers).catch(() => {});
        await writeBody(writer, body.body.getReader());
      } else {
        await writer.write(headers);
      }
      await writer.close();
    })();
    sending.catch(() => {});
    return await this.#readResponse(stream.readable.getReader(), sending, method === "HEAD");
  }

  async #readResponse(
    reader: ReadableStreamDefaultReader<Uint8Array>,
    sending: Promise<void>,
    headOnly: boolean,
  ): Promise<Response> {
    const frames = new FrameReader({
      kind: "response",
      maxHeadersPayload: this.#maxFieldSectionSize,
    });
    for (;;) {
      const event = frames.next();
      if (event === null) {
        const { value, done } = await reader.read();
        if (done) {
          frames.end();
          await sending; // surfaces a send failure as the reason
          throw new Error("stream ended before a response");
        }
        frames.push(value);
        continue;
      }
      if (event.type !== "headers") continue;
      const head = parseResponseHead(decodeFieldSection(event.payload, this.#maxFieldSectionSize));
      if (head.status < 200) {
        frames.interimResponse(); // informational responses precede the final one
        continue;
      }
      // A HEAD response announces a content-length but carries no body (RFC 9110 §9.3.2).
      const nullBody = headOnly || head.status === 204 || head.status === 304;
      const source = new DataFrameSource(
        reader,
        frames,
        head.contentLength,
        Number.MAX_SAFE_INTEGER,
        (b) => decodeFieldSection(b, this.#maxFieldSectionSize),
      );
      const response = new Response(nullBody ? null : new ReadableStream(source), {
        status: head.status,
        headers: head.headers,
      });
      if (!nullBody) bodySources.set(response, source);
      return response;
    }
  }

  /** Closes the connection (H3_NO_ERROR unless told otherwise). */
  close(code = H3_NO_ERROR, reason = ""): void {
    try {
      this.#conn.close({ closeCode: code, reason });
    } catch {
      // already closed
    }
  }
}
