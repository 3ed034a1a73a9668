/**
 * What the TCP listener uses to end exchanges that went wrong below the app: an HTTP/1.1 error
 * answer written straight to the socket when `node:http` has no response object to write it
 * through (a malformed or oversized head, a head that never completed), a close that lets that
 * answer reach the client, the status for each of the HTTP parser's error codes, and the idle
 * watch on a request body that stops arriving.
 * @module
 */

import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { answerDetail } from "../http_error.ts";

/**
 * How long a closing connection keeps reading (and dropping) what its client still sends after
 * our final answer: closing at once with unread input makes the kernel send a reset, which can
 * destroy the answer before the client reads it.
 */
const CLOSE_LINGER_MS = 2000;

/** A complete HTTP/1.1 answer with a JSON `{error, detail}` body that closes the connection. */
export function rawJsonAnswer(status: number, error: string, detail: string): string {
  const body = JSON.stringify({ error, detail: answerDetail(detail) });
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\n` +
    "content-type: application/json\r\n" +
    `content-length: ${new TextEncoder().encode(body).length}\r\n` +
    `connection: close\r\n\r\n${body}`;
}

/**
 * The answer to an HTTP/1.1 parse error `code` from `node:http`'s `clientError` event: 431 for
 * a head over the size limit, 408 for a head that took too long, 400 for any other parse error;
 * undefined for errors that are not about the request (a reset, a TLS failure), which get none.
 */
export function clientErrorAnswer(code: string | undefined): string | undefined {
  if (code === "HPE_HEADER_OVERFLOW") {
    return rawJsonAnswer(431, "header_section_too_large", "the request head exceeds the limit");
  }
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") {
    return rawJsonAnswer(408, "request_timeout", "the request head did not arrive in time");
  }
  if (code !== undefined && code.startsWith("HPE_")) {
    return rawJsonAnswer(400, "bad_request", `malformed HTTP/1.1 request (${code})`);
  }
  return undefined;
}

/**
 * Sends `answer` (when given) and closes `socket`: the HTTP parser is detached, what the client
 * still sends is read and dropped, and the socket is destroyed once the client closes its side
 * or after a short linger, whichever comes first.
 */
export function answerAndClose(socket: Socket, answer?: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  // node:http's own data listener would feed a parser that is finished (or freed) by now.
  socket.removeAllListeners("data");
  socket.on("data", () => {});
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), CLOSE_LINGER_MS);
  socket.once("close", () => clearTimeout(timer));
  socket.once("end", () => socket.destroy());
  if (answer === undefined) socket.end();
  else socket.end(answer);
}

/**
 * The idle clock of one request body: it runs only while the reader waits for bytes (time the
 * app spends not reading, e.g. because its answer cannot be written, does not count), and calls
 * `onStall` once when a wait reaches `timeoutMs`. At most one timer at a time, created only when
 * a wait outlasts the previous check: the per-chunk cost is two assignments.
 */
export class BodyIdleWatch {
  readonly #timeoutMs: number;
  readonly #onStall: () => void;
  /** When the current wait began (`performance.now()`), or -1 when not waiting. */
  #waitingSince = -1;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  /** @param timeoutMs the longest wait for a body byte; @param onStall what happens then */
  constructor(timeoutMs: number, onStall: () => void) {
    this.#timeoutMs = timeoutMs;
    this.#onStall = onStall;
  }

  /** The reader now waits for the next bytes. */
  waiting(): void {
    if (this.#stopped) return;
    this.#waitingSince = performance.now();
    if (this.#timer === undefined) this.#timer = setTimeout(this.#check, this.#timeoutMs);
  }

  /** Bytes (or the end) arrived. */
  arrived(): void {
    this.#waitingSince = -1;
  }

  /** The body is done (or abandoned): no more checks. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #check = (): void => {
    this.#timer = undefined;
    if (this.#stopped || this.#waitingSince < 0) return;
    const waited = performance.now() - this.#waitingSince;
    if (waited < this.#timeoutMs) {
      this.#timer = setTimeout(this.#check, this.#timeoutMs - waited);
      return;
    }
    this.stop();
    this.#onStall();
  };
}
