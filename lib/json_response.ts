/**
 * JSON responses that declare their length. The HTTP/3 writer sends a small body with a
 * declared `content-length` straight from its bytes (see `lib/h3/response_writer.ts`), which
 * is cheaper than streaming it; the routes on the hot path (`/healthz`, `/api/test`) use this.
 * @module
 */

const encoder = new TextEncoder();

/** `value` as an `application/json` response with `content-length`. */
export function jsonResponse(value: unknown, status = 200): Response {
  const body = encoder.encode(JSON.stringify(value));
  return new Response(body, {
    status,
    headers: { "content-type": "application/json", "content-length": String(body.length) },
  });
}
