/**
 * JSON responses for the routes on the hot path (`/healthz`, `/api/test`): a
 * {@link LightResponse} with `content-type` and `content-length`, which the HTTP/3 writer sends
 * from its bytes and field list without building a Web `Response` (see `light_response.ts`).
 * @module
 */

import { LightResponse } from "./light_response.ts";

/**
 * `value` as an `application/json` response with `content-length`. Typed as `Response` for
 * handlers; it reads as one, and is built into one only when something asks.
 */
export function jsonResponse(value: unknown, status = 200): Response {
  return LightResponse.json(value, status) as unknown as Response;
}

/** `text`, already serialized JSON, as {@link jsonResponse} would answer it. */
export function jsonTextResponse(text: string, status = 200): Response {
  return LightResponse.jsonText(text, status) as unknown as Response;
}
