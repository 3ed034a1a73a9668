/**
 * A raw HTTPS (HTTP/1.1 over TLS) peer for tests that need to misbehave at the byte level:
 * trickle a head, stall a body, send a malformed request, never read an answer. Every wait is
 * bounded; reads end on EOF or on a reset alike (a server may close without `close_notify`).
 *
 * ```ts
 * const conn = await RawHttps.connect(port, caPem);
 * await conn.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
 * const { status } = await conn.response(5000);
 * conn.close();
 * ```
 * @module
 */

import { withTimeout } from "../../lib/timeout.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What came back on a connection: the raw text, its status line's code (or 0), and the end. */
export interface RawAnswer {
  text: string;
  status: number;
  /** The body as far as it came (chunked framing removed). */
  body: string;
  /** The JSON body, when the answer has one. */
  json?: { error?: string; detail?: string };
  /** True when the server ended the connection (EOF or reset) before the wait was over. */
  ended: boolean;
}

/** One TLS connection to the server, trusting its development CA. */
export class RawHttps {
  #buffer = new Uint8Array(64 * 1024);
  #closed = false;
  #pending: Promise<number | null> | undefined;

  private constructor(readonly conn: Deno.TlsConn) {}

  /**
   * Connects to 127.0.0.1:`port` (the dev certificate covers that address) and completes the
   * TLS handshake; rejects when the server refuses either.
   */
  static async connect(port: number, caPem: string): Promise<RawHttps> {
    const conn = await withTimeout(
      Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [caPem] }),
      10_000,
      "a TLS connection",
    );
    try {
      await withTimeout(conn.handshake(), 10_000, "a TLS handshake");
    } catch (error) {
      try {
        conn.close();
      } catch {
        // already closed by the server
      }
      throw error;
    }
    return new RawHttps(conn);
  }

  /** Writes `data` (text or bytes) in full. */
  async send(data: string | Uint8Array): Promise<void> {
    let bytes = typeof data === "string" ? encoder.encode(data) : data;
    while (bytes.length > 0) bytes = bytes.subarray(await this.conn.write(bytes));
  }

  /**
   * Reads for at most `ms`, until the server ends the connection or `until` accepts the text so
   * far; never rejects.
   */
  async read(ms: number, until: (text: string) => boolean = () => false): Promise<RawAnswer> {
    let text = "";
    let ended = false;
    const deadline = performance.now() + ms;
    while (!until(text)) {
      const n = await this.#readOnce(deadline - performance.now());
      if (n === "timeout") break;
      if (n === null) {
        ended = true;
        break;
      }
      text += decoder.decode(this.#buffer.subarray(0, n));
    }
    return parse(text, ended);
  }

  /** One read, or "timeout" after `ms` (the read stays pending for the next call). */
  async #readOnce(ms: number): Promise<number | null | "timeout"> {
    if (ms <= 0) return "timeout";
    this.#pending ??= this.conn.read(this.#buffer).catch(() => null);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const result = await Promise.race([
      this.#pending,
      new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), ms)),
    ]);
    clearTimeout(timer);
    if (result !== "timeout") this.#pending = undefined;
    return result;
  }

  /** Reads one whole answer (head and, when `content-length` says, body), for at most `ms`. */
  response(ms: number): Promise<RawAnswer> {
    return this.read(ms, complete);
  }

  /** Reads until the server ends the connection, for at most `ms`. */
  untilClosed(ms: number): Promise<RawAnswer> {
    return this.read(ms);
  }

  /** Closes our side (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // the server closed it already
    }
  }
}

/** Where the head ends and whether the body is all there (`content-length` or chunked). */
function framing(text: string): { bodyStart: number; complete: boolean; chunked: boolean } {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return { bodyStart: -1, complete: false, chunked: false };
  const head = text.slice(0, end);
  const chunked = /\r\ntransfer-encoding: *chunked/i.test(head);
  const length = /\r\ncontent-length: *(\d+)/i.exec(head);
  const complete = chunked
    ? text.endsWith("\r\n0\r\n\r\n")
    : length === null || text.length - end - 4 >= Number(length[1]);
  return { bodyStart: end + 4, complete, chunked };
}

/** Whether `text` holds a complete answer. */
function complete(text: string): boolean {
  return framing(text).complete;
}

/** A chunked body's content (as far as it goes). */
function dechunk(body: string): string {
  let out = "";
  let at = 0;
  for (let i = 0; i < 10_000 && at < body.length; i++) {
    const lineEnd = body.indexOf("\r\n", at);
    if (lineEnd < 0) break;
    const size = parseInt(body.slice(at, lineEnd), 16);
    if (!(size > 0)) break;
    out += body.slice(lineEnd + 2, lineEnd + 2 + size);
    at = lineEnd + 2 + size + 2;
  }
  return out;
}

function parse(text: string, ended: boolean): RawAnswer {
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1] ?? 0);
  const { bodyStart, chunked } = framing(text);
  const raw = bodyStart < 0 ? "" : text.slice(bodyStart);
  const body = chunked ? dechunk(raw) : raw;
  let json: RawAnswer["json"];
  if (bodyStart >= 0 && /\r\ncontent-type: application\/json/i.test(text.slice(0, bodyStart))) {
    try {
      json = JSON.parse(body);
    } catch {
      // not (all) there
    }
  }
  return { text, status, body, json, ended };
}

/** Milliseconds since `start` (a `performance.now()` reading), rounded. */
export function since(start: number): number {
  return Math.round(performance.now() - start);
}
