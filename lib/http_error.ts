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

/**
 * The Content-Security-Policy of every answer that is not one of the dashboard's pages: nothing
 * may load, run or frame it, so a body that a browser renders anyway does nothing.
 */
export const API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'";

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

/** A request that cannot be served as sent (a body that is not the JSON expected): 400. */
export class BadRequestError extends HttpError {
  /** Creates the error; `detail` says what is wrong, quoting client input only as an excerpt. */
  constructor(detail: string) {
    super(400, "bad_request", detail);
    this.name = "BadRequestError";
  }
}

/** A part of a request that did not arrive in time: 408. */
export class RequestTimeoutError extends HttpError {
  /** The deadline that passed, in milliseconds. */
  readonly timeoutMs: number;
  /** @param timeoutMs the deadline that passed; @param detail what did not arrive */
  constructor(timeoutMs: number, detail: string) {
    super(408, "request_timeout", detail);
    this.name = "RequestTimeoutError";
    this.timeoutMs = timeoutMs;
  }
}

/** A request head that did not arrive in time (slowloris). */
export class HeaderTimeoutError extends RequestTimeoutError {
  /** @param timeoutMs the deadline that passed */
  constructor(timeoutMs: number) {
    super(timeoutMs, `no complete header section within ${timeoutMs} ms`);
    this.name = "HeaderTimeoutError";
  }
}

/** A request body that stopped arriving: no body bytes for the body timeout. */
export class BodyTimeoutError extends RequestTimeoutError {
  /** @param timeoutMs the deadline that passed */
  constructor(timeoutMs: number) {
    super(timeoutMs, `no request body bytes for ${timeoutMs} ms`);
    this.name = "BodyTimeoutError";
  }
}

/** `detail` cut to a length fit for an answer. */
export function answerDetail(detail: string): string {
  return detail.length <= MAX_DETAIL
    ? detail
    : `${detail.slice(0, MAX_DETAIL)}… (${detail.length} characters)`;
}

/**
 * A JSON `{error, detail}` response with `status`, plus any extra headers. It carries `nosniff`
 * and {@link API_CONTENT_SECURITY_POLICY} itself, since the listeners also answer with it before
 * a request reaches the app's middleware.
 */
export function jsonError(
  status: number,
  error: string,
  detail: string,
  headers?: Record<string, string>,
): Response {
  return new Response(JSON.stringify({ error, detail: answerDetail(detail) }), {
    status,
    headers: {
      "content-type": "application/json",
      "x-content-type-options": "nosniff",
      "content-security-policy": API_CONTENT_SECURITY_POLICY,
      ...headers,
    },
  });
}

/** The answer to any error: its own status and code for an {@link HttpError}, else 500. */
export function errorAnswer(error: unknown): Response {
  if (error instanceof HttpError) return jsonError(error.status, error.code, error.message);
  return jsonError(500, "internal_error", error instanceof Error ? error.message : String(error));
}
