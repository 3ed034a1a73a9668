/**
 * The one vocabulary for errors that have an HTTP answer, used by both listeners (HTTP/3 and
 * TCP) and the Hono app: a typed error carries its status and machine-readable `error` code, and
 * {@link errorAnswer} turns any error into the JSON `{error, detail}` response. Nothing here
 * matches message text; code that needs to tell errors apart uses `instanceof`.
 *
 * ```ts
 * throw new BodyTooLargeError(limit); // becomes 413 {"error":"body_too_large","detail":"…"}
 * app.onError((error) => errorAnswer(error));
 * ```
 * @module
 */

/** Longest `detail` sent back: an error may quote client input, which is not echoed in full. */
const MAX_DETAIL = 300;

/** An error with an HTTP answer. */
export class HttpError extends Error {
  /** The HTTP status to answer with. */
  readonly status: number;
  /** The `error` field of the JSON answer (snake_case). */
  readonly code: string;
  /** Creates the error; `detail` becomes its message and the answer's `detail`. */
  constructor(status: number, code: string, detail: string) {
    super(detail);
    this.name = "HttpError";
    this.status = status;
    this.code = code;
  }
}

/** A request body over the configured limit: 413. */
export class BodyTooLargeError extends HttpError {
  /** The limit that was exceeded, in bytes. */
  readonly limit: number;
  /** Creates the error for `limit`. */
  constructor(limit: number) {
    super(413, "body_too_large", `request body exceeds ${limit} bytes`);
    this.name = "BodyTooLargeError";
    this.limit = limit;
  }
}

/** A request head that did not arrive in time (slowloris): 408. */
export class HeaderTimeoutError extends HttpError {
  /** The deadline that passed, in milliseconds. */
  readonly timeoutMs: number;
  /** @param timeoutMs the deadline that passed */
  constructor(timeoutMs: number) {
    super(408, "request_timeout", `no complete header section within ${timeoutMs} ms`);
    this.name = "HeaderTimeoutError";
    this.timeoutMs = timeoutMs;
  }
}

/** A request body that stopped arriving (no byte for the body timeout): 408. */
export class BodyTimeoutError extends HttpError {
  /** The idle time allowed, in milliseconds. */
  readonly timeoutMs: number;
  /** @param timeoutMs the idle time that passed without a body byte */
  constructor(timeoutMs: number) {
    super(408, "request_timeout", `no request body bytes for ${timeoutMs} ms`);
    this.name = "BodyTimeoutError";
    this.timeoutMs = timeoutMs;
  }
}

/** `detail` cut to a length fit for an answer. */
export function answerDetail(detail: string): string {
  return detail.length <= MAX_DETAIL
    ? detail
    : `${detail.slice(0, MAX_DETAIL)}… (${detail.length} characters)`;
}

/** A JSON `{error, detail}` response with `status`, plus any extra headers. */
export function jsonError(
  status: number,
  error: string,
  detail: string,
  headers?: Record<string, string>,
): Response {
  return new Response(JSON.stringify({ error, detail: answerDetail(detail) }), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** The answer to any error: its own status and code for an {@link HttpError}, else 500. */
export function errorAnswer(error: unknown): Response {
  if (error instanceof HttpError) return jsonError(error.status, error.code, error.message);
  return jsonError(500, "internal_error", error instanceof Error ? error.message : String(error));
}
