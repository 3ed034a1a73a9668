/**
 * Reading a small JSON request body without trusting its size. A JSON API needs a few hundred
 * bytes, while the listeners accept bodies up to `--max-body` (meant for uploads to
 * `/api/echo`); so a JSON route checks its own, much smaller limit: first on the declared
 * `content-length` (nothing is read), then while reading, for a body sent without one
 * (chunked, or an HTTP/3 body with no length). A body over the limit is never buffered whole:
 * reading stops at the first byte past it.
 *
 * ```ts
 * refuseDeclaredOverLimit(request, 64 * 1024); // throws BodyTooLargeError (413) at once
 * // … checks that need no body (permission); answering one of them: discardBody(request) …
 * const value = await readJsonBody(request, 64 * 1024); // 413 or 400 as typed errors
 * ```
 * @module
 */

import { BadRequestError, BodyTooLargeError } from "./http_error.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Throws {@link BodyTooLargeError} when the request declares a `content-length` above
 * `maxBytes`. Reads nothing, so it can come before any other check.
 */
export function refuseDeclaredOverLimit(request: Request, maxBytes: number): void {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) {
    discardBody(request);
    throw new BodyTooLargeError(maxBytes);
  }
}

/**
 * Stops reading a body that will not be used (a request answered before its body was read), so
 * the client is told to stop sending rather than left to fill the flow-control window.
 */
export function discardBody(request: Request): void {
  if (request.body !== null && !request.bodyUsed) request.body.cancel().catch(() => {});
}

/**
 * The request body parsed as JSON, read only up to `maxBytes`.
 * @throws BodyTooLargeError (413) when the body is, or declares itself, larger than `maxBytes`
 *   (the rest of it is not read: the body stream is cancelled)
 * @throws BadRequestError (400) when it is not UTF-8 JSON, or is empty
 */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  refuseDeclaredOverLimit(request, maxBytes);
  const body = request.body;
  if (body === null) throw new BadRequestError("the body is empty; a JSON object is expected");
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      length += value.length;
      if (length > maxBytes) throw new BodyTooLargeError(maxBytes);
      chunks.push(value);
    }
  } catch (error) {
    reader.cancel().catch(() => {});
    throw error;
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch {
    throw new BadRequestError("the body is not valid JSON");
  }
}
