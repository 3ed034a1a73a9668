/**
 * One HTTP/1.1 connection of the direct TCP listener, from its first request head to its close:
 * heads are read against an absolute deadline (408 when one was begun, a silent close when the
 * connection was idle), refused heads get 400/431, each request goes to the app as a fetch
 * `Request` (a lazy one without a body), and the answer is written back, small ones in a single
 * write. A request body is read only as the app pulls it, counted, cut at the size limit and
 * watched for stalls (408, or the exchange cut once its answer has begun).
 * @module
 */

import {
  BodyTimeoutError,
  BodyTooLargeError,
  errorAnswer,
  HttpError,
  jsonError,
} from "../http_error.ts";
import type { ConnectionEnv } from "../connection_env.ts";
import { BodilessRequest } from "../h3/bodiless_request.ts";
import { LightResponse } from "../light_response.ts";
import { type RequestUrl, requestUrl } from "./request_url.ts";
import { type H1Head, type LastHead, parseHead } from "./h1_head.ts";
import { ChunkedDecoder, ChunkedError, type ChunkedStep } from "./h1_chunked.ts";
import { answerBytes, flatFields, responseHead } from "./h1_answer.ts";
import { AnswerEncoder } from "./h1_answer_encoder.ts";
import { type ConnectionIO, joined } from "./h1_io.ts";
import { rawJsonAnswer } from "./tcp_guards.ts";

/** What a connection needs from its listener. */
export interface H1Settings {
  readonly fetch: (request: Request, env: ConnectionEnv) => Response | Promise<Response>;
  readonly altSvc: string;
  readonly maxHeadBytes: number;
  readonly maxBodyBytes: number;
  readonly headerTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  /** True once shutdown began: answers then say `connection: close`. */
  readonly draining: boolean;
}

/** A connection's env, with the body byte counters the tracker reads. */
export interface H1Env extends ConnectionEnv {
  readonly counters: { bytesIn: number; bytesOut: number };
}

const encoder = new TextEncoder();
const CONTINUE = encoder.encode("HTTP/1.1 100 Continue\r\n\r\n");
const CHUNK_END = encoder.encode("0\r\n\r\n");

/** The state of the request body being read. */
interface BodyState {
  /** Bytes still due with `content-length`, or -1 when chunked. */
  left: number;
  chunked: ChunkedDecoder | undefined;
  received: number;
  finished: boolean;
  /** A read of the body is in progress. */
  reading: boolean;
}

/** The most of an unread request body skipped to keep its connection open. */
const SKIP_BODY_BYTES = 64 * 1024;

/** One connection's exchanges, in order. */
export class H1Connection {
  /** Whether an exchange is in progress (shutdown closes only idle connections). */
  active = false;
  /** Whether the current exchange's answer has begun. */
  #responded = false;
  #lastUrl: { authority: string; target: string; url: RequestUrl } | undefined;
  readonly #lastHead: { value?: LastHead } = {};
  readonly #answers: AnswerEncoder;

  /** @param io the connection's bytes; @param settings the listener's; @param env for the app */
  constructor(
    readonly io: ConnectionIO,
    readonly settings: H1Settings,
    readonly env: H1Env,
  ) {
    this.#answers = new AnswerEncoder(settings.altSvc);
  }

  /** Serves requests until the connection ends. */
  async serve(): Promise<void> {
    // Bounded by the connection's life: each pass serves one request or ends it.
    while (!this.io.closed) {
      const head = await this.#readHead();
      if (head === undefined) return;
      this.active = true;
      try {
        if (!await this.#exchange(head)) return;
      } finally {
        this.active = false;
      }
      if (this.settings.draining) return; // the answer said `connection: close`
    }
  }

  /** The next request head, or undefined once the connection is done (answered or closed). */
  async #readHead(): Promise<H1Head | undefined> {
    // `Date.now()`, read once per head: the waits below take the deadline as it is.
    const deadline = Date.now() + this.settings.headerTimeoutMs;
    // Bounded by the deadline: each pass parses what arrived or ends.
    while (true) {
      const parsed = parseHead(
        this.io.buffer,
        this.io.start,
        this.io.end,
        this.settings.maxHeadBytes,
        this.#lastHead,
      );
      if (parsed.kind === "head") {
        this.io.consume(parsed.size);
        return parsed.head;
      }
      if (parsed.kind === "error") {
        const answer = parsed.status === 431
          ? rawJsonAnswer(431, "header_section_too_large", parsed.detail)
          : rawJsonAnswer(400, "bad_request", `malformed HTTP/1.1 request (${parsed.detail})`);
        await this.#answerAndClose(answer);
        return undefined;
      }
      const read = await this.io.readUntil(deadline);
      if (read === "eof") return undefined;
      if (read === "data") continue;
      // An unsolicited 408 on an idle connection would be read as the answer to the client's
      // next request: only a begun head (bytes of it wait in the buffer) gets one.
      if (this.io.buffered > 0) {
        await this.#answerAndClose(
          rawJsonAnswer(
            408,
            "request_timeout",
            `no complete request head within ${this.settings.headerTimeoutMs} ms`,
          ),
        );
      } else {
        this.io.close();
      }
      return undefined;
    }
  }

  async #answerAndClose(answer: string): Promise<void> {
    await this.io.write(encoder.encode(answer)).catch(() => {});
    await this.io.closeGracefully();
  }

  /** {@link requestUrl}, remembered for the last authority and target (a client repeats them). */
  #requestUrl(authority: string, target: string): RequestUrl {
    const last = this.#lastUrl;
    if (last !== undefined && last.authority === authority && last.target === target) {
      return last.url;
    }
    const url = requestUrl(authority, target);
    this.#lastUrl = { authority, target, url };
    return url;
  }

  /** Serves one request; true when the connection may carry the next. */
  async #exchange(head: H1Head): Promise<boolean> {
    this.#responded = false;
    const target = this.#requestUrl(head.host ?? "localhost", head.target);
    if (target.url === undefined) {
      await this.#send(jsonError(400, "bad_request", target.error), head, true);
      return false;
    }
    if (head.otherExpectation !== undefined) {
      // RFC 9110 §10.1.1, as node:http answers: an expectation this server cannot meet.
      const detail = `unsupported expectation ${JSON.stringify(head.otherExpectation)}`;
      await this.#send(jsonError(417, "expectation_failed", detail), head, true);
      return false;
    }
    if (head.contentLength > this.settings.maxBodyBytes) {
      // The body is not read: the connection closes after the answer rather than draining it.
      await this.#send(errorAnswer(new BodyTooLargeError(this.settings.maxBodyBytes)), head, true);
      return false;
    }
    const body: BodyState = {
      left: head.chunked ? -1 : Math.max(0, head.contentLength),
      chunked: head.chunked ? new ChunkedDecoder(this.settings.maxHeadBytes) : undefined,
      received: 0,
      finished: !head.chunked && head.contentLength <= 0,
      reading: false,
    };
    // As node:http does by default: the client may send its body at once (the size was checked).
    if (head.expectContinue && !body.finished) await this.io.write(CONTINUE);
    const withBody = head.method !== "GET" && head.method !== "HEAD";
    let request: Request;
    if (!withBody) {
      // Most requests: no `Request` nor `Headers` unless a handler asks for them.
      request = new BodilessRequest(head.method, target.url, head.fields) as unknown as Request;
    } else {
      request = new Request(target.url, {
        method: head.method,
        headers: head.fields,
        body: this.#bodyStream(body),
        // @ts-ignore: needed for streaming request bodies
        duplex: "half",
      });
    }
    let keep: boolean;
    try {
      keep = await this.#send(await this.settings.fetch(request, this.env), head, false);
    } catch {
      this.io.close();
      return false;
    }
    // A body left unread (the app did not want it, or a GET carried one) is skipped when it is
    // small, as node:http does, so the connection can carry the next request; a large one is
    // not worth reading for nothing: the connection ends after the answer instead.
    if (!body.finished && !(keep && await this.#skipBody(body))) {
      await this.io.closeGracefully();
      return false;
    }
    return keep;
  }

  /** The request body as a stream the app pulls: nothing is read before it asks. */
  #bodyStream(body: BodyState): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const chunk = await this.#nextBodyChunk(body);
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
    }, { highWaterMark: 0 });
  }

  /** Reads and drops the rest of a small body; true when it is all through. */
  async #skipBody(body: BodyState): Promise<boolean> {
    // A read of the app's still in progress would race this one for the same bytes.
    if (body.reading) return false;
    let skipped = 0;
    // Bounded by the bytes skipped: each pass skips at least one or ends.
    while (!body.finished && skipped <= SKIP_BODY_BYTES) {
      const chunk = await this.#nextBodyChunk(body).catch(() => null);
      if (chunk === null) break;
      skipped += chunk.length;
    }
    return body.finished;
  }

  /** The next piece of the body, or null at its end; throws on a bad body. */
  async #nextBodyChunk(body: BodyState): Promise<Uint8Array | null> {
    body.reading = true;
    try {
      return await this.#readBodyChunk(body);
    } finally {
      body.reading = false;
    }
  }

  async #readBodyChunk(body: BodyState): Promise<Uint8Array | null> {
    const { io, settings } = this;
    // Each pass takes buffered bytes or waits for more; the body timeout bounds the waits.
    while (!body.finished) {
      if (io.buffered > 0) {
        let chunk: Uint8Array;
        if (body.chunked === undefined) {
          const take = Math.min(body.left, io.buffered);
          chunk = io.buffer.subarray(io.start, io.start + take); // the buffer is never reused
          io.consume(take);
          body.left -= take;
          body.finished = body.left === 0;
        } else {
          const step = decodeChunked(body.chunked, io.buffer, io.start, io.end);
          chunk = concat(step.data);
          io.consume(step.used);
          body.finished = step.done;
        }
        if (chunk.length > 0) {
          this.env.counters.bytesIn += chunk.length;
          body.received += chunk.length;
          if (body.received > settings.maxBodyBytes) {
            throw new BodyTooLargeError(settings.maxBodyBytes);
          }
          return chunk;
        }
        if (body.finished) break;
      }
      const read = await io.readMore(settings.bodyTimeoutMs);
      if (read === "eof") throw new Error("the client closed the connection mid-body");
      if (read === "timeout") throw this.#bodyStalled();
    }
    return null;
  }

  /**
   * The body stopped arriving: 408 when the answer has not begun (the connection then closes:
   * the rest of the body will never come), else the exchange is cut. The app's wait ends with
   * the returned error either way.
   */
  #bodyStalled(): BodyTimeoutError {
    const error = new BodyTimeoutError(this.settings.bodyTimeoutMs);
    if (this.#responded) {
      this.io.close();
    } else {
      this.#responded = true;
      this.#answerAndClose(rawJsonAnswer(error.status, error.code, error.message));
    }
    return error;
  }

  /** Writes the app's answer; true when the connection may stay open after it. */
  async #send(response: Response | LightResponse, head: H1Head, close: boolean) {
    if (this.#responded || this.io.closed) {
      // Answered already (a body that stalled got its 408 meanwhile): this answer is dropped.
      if (!(response instanceof LightResponse)) response.body?.cancel().catch(() => {});
      return false;
    }
    this.#responded = true;
    const closing = close || this.settings.draining || !head.keepAlive;
    const bodiless = head.method === "HEAD" || response.status === 204 ||
      response.status === 304;
    if (response instanceof LightResponse && response.fields !== undefined) {
      const bodyLength = bodiless ? 0 : response.bodyLength;
      const bytes = this.#answers.encode(
        response.status,
        response.fields,
        2, // after `:status`
        closing,
        bodiless ? undefined : response.bodyText ?? response.bodyBytes,
        bodyLength,
      );
      this.env.counters.bytesOut += bodyLength;
      await this.io.write(bytes);
      return !closing;
    }
    const fields = flatFields(response.headers);
    const stream = bodiless ? null : response.body;
    const unknownLength = stream !== null && !response.headers.has("content-length");
    // HTTP/1.0 has no chunked coding: there the connection's end ends such a body.
    const chunked = unknownLength && head.http11;
    const closes = closing || (unknownLength && !head.http11);
    const text = responseHead(response.status, fields, {
      altSvc: this.settings.altSvc,
      close: closes,
      chunked,
    });
    if (stream === null) {
      response.body?.cancel().catch(() => {});
      await this.io.write(answerBytes(text));
      return !closing;
    }
    await this.#writeBody(stream, answerBytes(text), chunked);
    return !closes;
  }

  /** Writes `head` and then the body as it comes, each write after the client took the last. */
  async #writeBody(stream: ReadableStream<Uint8Array>, head: Uint8Array, chunked: boolean) {
    let pending: Uint8Array | undefined = head;
    const reader = stream.getReader();
    try {
      // Bounded by the body: each pass writes one of its chunks.
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        if (value.length === 0) continue;
        this.env.counters.bytesOut += value.length;
        const parts = chunked
          ? [encoder.encode(`${value.length.toString(16)}\r\n`), value, CRLF]
          : [value];
        if (pending !== undefined) parts.unshift(pending);
        pending = undefined;
        await this.io.write(...parts);
      }
      const tail: Uint8Array[] = chunked ? [CHUNK_END] : [];
      if (pending !== undefined) tail.unshift(pending);
      if (tail.length > 0) await this.io.write(...tail);
    } catch (error) {
      reader.cancel().catch(() => {});
      throw error;
    }
  }
}

const CRLF = encoder.encode("\r\n");

/** A decoding step; a malformed coding is the client's error (400), not the server's. */
function decodeChunked(
  decoder: ChunkedDecoder,
  bytes: Uint8Array,
  start: number,
  end: number,
): ChunkedStep {
  try {
    return decoder.decode(bytes, start, end);
  } catch (error) {
    if (!(error instanceof ChunkedError)) throw error;
    throw new HttpError(400, "bad_request", `malformed chunked request body: ${error.message}`);
  }
}

/** Views into received bytes (never reused, see `h1_io.ts`) as one array. */
function concat(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0] : joined(parts);
}
