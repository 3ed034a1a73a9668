/**
 * Writing a Web `Response` onto an HTTP/3 request stream, and the responses the server gives
 * to requests it cannot accept.
 * @module
 */

import {
  encodeHeadersFrame,
  planHeadersFrame,
  type SentBytes,
  writeBody,
  writePlannedHeadersFrame,
} from "./body.ts";
import { errorName, H3Error } from "./errors.ts";
import { HttpError, jsonError } from "../http_error.ts";
import { responseFields } from "./message.ts";
import { LightResponse } from "../light_response.ts";
import { trailerFields } from "../response_trailers.ts";

const NOT_YET = Symbol("not yet");
/**
 * How many microtask turns a body gets to produce a chunk before the header section is sent on
 * its own. A string or bytes body (what Hono's `c.json` makes) settles in 2 turns in Deno 2.9.
 */
const SETTLE_HOPS = 8;

async function afterMicrotasks(hops: number): Promise<typeof NOT_YET> {
  for (let i = 0; i < hops; i++) await null;
  return NOT_YET;
}

/**
 * Largest body read whole when its length is declared: a small body with a `content-length` is
 * a finished buffer, so `bytes()` takes it without the stream, reader and microtask race a
 * streamed body needs.
 */
const WHOLE_BODY_MAX = 64 * 1024;

/** The `content-length` among flat response fields, or -1. */
function declaredLength(fields: readonly string[]): number {
  for (let i = 2; i < fields.length; i += 2) {
    if (fields[i] === "content-length") {
      const n = Number(fields[i + 1]);
      return Number.isSafeInteger(n) && n >= 0 ? n : -1;
    }
  }
  return -1;
}

/**
 * Buffers for light responses' frames, reused once their write is complete. A new
 * `Uint8Array` with its own memory costs an allocation outside the JavaScript heap, and the
 * garbage collector's work for it later, on every response; a view of a pooled buffer costs
 * neither. A frame larger than a pooled buffer gets one of its own.
 */
const frameBuffers: ArrayBuffer[] = [];
const FRAME_BUFFER_SIZE = 4096;
const MAX_POOLED_FRAME_BUFFERS = 256;

/** Sends a light response (see `lib/light_response.ts`) from its field list and body. */
async function sendLight(
  writer: WritableStreamDefaultWriter<Uint8Array>,
  response: LightResponse,
  fields: readonly string[],
  headOnly: boolean,
): Promise<number> {
  const length = headOnly ? 0 : response.bodyLength;
  const size = planHeadersFrame(fields, length);
  const pooled = size <= FRAME_BUFFER_SIZE
    ? frameBuffers.pop() ?? new ArrayBuffer(FRAME_BUFFER_SIZE)
    : undefined;
  const out = pooled === undefined ? new Uint8Array(size) : new Uint8Array(pooled, 0, size);
  const body = length === 0 ? undefined : response.bodyText ?? response.bodyBytes;
  writePlannedHeadersFrame(fields, body, length, out);
  try {
    writer.write(out).catch(ignore);
    await writer.close();
  } catch {
    // The write may still hold the buffer: it is not pooled again.
    writer.abort().catch(() => {});
    return 0;
  }
  // Both the write and the close are done: nothing refers to the buffer any more.
  // (A buffer the runtime took over would read as empty: it would not come back.)
  if (
    pooled !== undefined && pooled.byteLength === FRAME_BUFFER_SIZE &&
    frameBuffers.length < MAX_POOLED_FRAME_BUFFERS
  ) frameBuffers.push(pooled);
  return length;
}

/** Sends a response whose small body has a declared length: HEADERS and DATA in one write. */
async function sendWhole(
  writer: WritableStreamDefaultWriter<Uint8Array>,
  response: Response,
  fields: string[],
  declared: number,
): Promise<number> {
  try {
    const bytes = await response.bytes();
    if (bytes.length !== declared) throw new Error("body length differs from content-length");
    writer.write(encodeHeadersFrame(fields, bytes.length > 0 ? bytes : undefined)).catch(ignore);
    await writer.close();
    return bytes.length;
  } catch {
    writer.abort().catch(() => {});
    return 0;
  }
}

/**
 * The response to a request refused for `error`. A stream error should reset the stream with
 * its code, but Deno's QUIC API cannot reset a stream with a code (streams are only finished,
 * or stopped with code 0). So the request gets a response naming the HTTP/3 error, which RFC
 * 9114 §4.1.2 allows ("MAY send an HTTP response indicating the error"): 431 for a header
 * section too large to process (§4.2.2), 413 for a body over the limit, 408 for a header section
 * or body that did not arrive in time, 400 otherwise.
 */
export function errorResponse(error: unknown): Response {
  const [status, name] = error instanceof HttpError
    ? [error.status, error.code]
    : error instanceof H3Error
    ? [error.httpStatus, errorName(error.code)]
    : [500, "H3_INTERNAL_ERROR"];
  const detail = error instanceof Error ? error.message : String(error);
  return jsonError(status, name, detail, { "x-h3-error": name });
}

/**
 * Sends a response and finishes the stream; resolves with the body bytes sent, which are also
 * added to `counter` (a streamed body's chunk by chunk, as they go out). A body that fits in one
 * chunk goes out with the HEADERS in a single write (the common case for API responses); longer
 * bodies stream as DATA frames with backpressure. Never rejects: if the peer stops reading or
 * the connection goes away, the body is cancelled.
 */
export async function sendResponse(
  writer: WritableStreamDefaultWriter<Uint8Array>,
  response: Response,
  headOnly: boolean,
  counter?: SentBytes,
): Promise<number> {
  if (response instanceof LightResponse) {
    const light = response.fields;
    if (light !== undefined) {
      const sent = await sendLight(writer, response, light, headOnly);
      if (counter !== undefined) counter.bytesOut += sent;
      return sent;
    }
  }
  const fields = responseFields(response.status, response.headers);
  const declared = headOnly ? -1 : declaredLength(fields);
  if (declared >= 0 && declared <= WHOLE_BODY_MAX) {
    const sent = await sendWhole(writer, response, fields, declared);
    if (counter !== undefined) counter.bytesOut += sent;
    return sent;
  }
  const body = response.body;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let sent = 0;
  try {
    if (body === null || headOnly) {
      body?.cancel().catch(() => {});
      writer.write(encodeHeadersFrame(fields)).catch(ignore); // a failure rejects close() too
      await writer.close();
      return 0;
    }
    reader = body.getReader();
    const firstRead = reader.read();
    const first = await Promise.race([firstRead, afterMicrotasks(SETTLE_HOPS)]);
    if (first === NOT_YET) {
      // A body that is not ready at once (a live event stream, a slow handler): the client gets
      // the header section now rather than when the first chunk comes.
      writer.write(encodeHeadersFrame(fields)).catch(() => {});
      const later = await firstRead;
      sent = await writeBody(writer, reader, counter, ...(later.done ? [] : [later.value]));
      writeTrailers(writer, body);
      await writer.close();
      return sent;
    }
    if (first.done) {
      writer.write(encodeHeadersFrame(fields)).catch(ignore); // a failure rejects close() too
      await writer.close();
      return 0;
    }
    const secondRead = reader.read();
    const second = await Promise.race([secondRead, afterMicrotasks(SETTLE_HOPS)]);
    if (second !== NOT_YET && second.done) {
      writer.write(encodeHeadersFrame(fields, first.value)).catch(ignore);
      writeTrailers(writer, body);
      await writer.close();
      if (counter !== undefined) counter.bytesOut += first.value.length;
      return first.value.length;
    }
    writer.write(encodeHeadersFrame(fields, first.value)).catch(() => {});
    sent = first.value.length;
    if (counter !== undefined) counter.bytesOut += sent;
    const next = second === NOT_YET ? await secondRead : second;
    sent += await writeBody(writer, reader, counter, ...(next.done ? [] : [next.value]));
    writeTrailers(writer, body);
    await writer.close();
    return sent;
  } catch {
    // Through the reader once there is one: a locked stream refuses `cancel()`, and the body's
    // source (a generator, a live event stream) would never learn that the client is gone.
    (reader ?? body)?.cancel().catch(() => {});
    writer.abort().catch(() => {});
    return sent;
  }
}

/**
 * Queues the trailer section attached to a streamed body (see `response_trailers.ts`) once the
 * body has ended; a failure surfaces on the `close()` that follows. Bodies read whole
 * (`sendWhole`) carry none: trailers are for what is only known after streaming.
 */
function writeTrailers(
  writer: WritableStreamDefaultWriter<Uint8Array>,
  body: ReadableStream<Uint8Array>,
): void {
  const fields = trailerFields(body);
  if (fields.length > 0) writer.write(encodeHeadersFrame(fields)).catch(ignore);
}

function ignore(): void {}
