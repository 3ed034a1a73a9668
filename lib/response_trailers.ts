/**
 * Trailer fields for a streamed response body, for the listeners that can send them (HTTP/3).
 * A Web `Response` has no trailers, so a handler attaches them to its body stream, which stays
 * the same object through `new Response(body)` and any middleware that sets headers in place.
 * The fields are asked for only after the body's last byte was read, so they can describe the
 * body (a digest computed while it streamed).
 *
 * ```ts
 * const body = new ReadableStream(source);
 * setTrailers(body, () => [["x-content-sha256", source.digestHex!]]);
 * return new Response(body, { headers: { trailer: "x-content-sha256" } });
 * ```
 * @module
 */

/** Produces trailer fields as `[name, value]` pairs (lowercase names), or none. */
export type TrailerSource = () => readonly (readonly [string, string])[];

const trailersByBody = new WeakMap<ReadableStream<Uint8Array>, TrailerSource>();

/** Attaches `trailers` to `body`, to be sent after its last byte. */
export function setTrailers(body: ReadableStream<Uint8Array>, trailers: TrailerSource): void {
  trailersByBody.set(body, trailers);
}

/** The trailer fields attached to `body`, as flat name/value pairs; empty when there are none. */
export function trailerFields(body: ReadableStream<Uint8Array> | null): string[] {
  const source = body === null ? undefined : trailersByBody.get(body);
  if (source === undefined) return [];
  const fields: string[] = [];
  for (const [name, value] of source()) fields.push(name, value);
  return fields;
}
