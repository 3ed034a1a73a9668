/**
 * One request/response exchange over TCP (HTTP/1.1 or HTTP/2, through `node:http`/`node:http2`):
 * the request is checked (authority, declared size) and turned into a fetch `Request` whose body
 * is counted, size-limited and watched for stalls; the app's `Response` is written back with
 * backpressure (the next chunk is read only once the socket has taken the last), which is what
 * keeps a client that uploads and never reads from filling the server's memory.
 * @module
 */

import type http2 from "node:http2";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { BodyTimeoutError, BodyTooLargeError, errorAnswer, jsonError } from "../http_error.ts";
import type { ConnectionEnv } from "../connection_env.ts";
import { BodilessRequest } from "../h3/bodiless_request.ts";
import { LightResponse } from "../light_response.ts";
import { requestUrl } from "./request_url.ts";
import { BodyIdleWatch } from "./tcp_guards.ts";

/** A request as either server gives it. */
export type AnyRequest = IncomingMessage | http2.Http2ServerRequest;
/** A response as either server gives it. */
export type AnyResponse = ServerResponse | http2.Http2ServerResponse;

/** A TCP connection's env plus its body byte counters, requests in progress and head deadline. */
export interface TcpEnv extends ConnectionEnv {
  readonly counters: { bytesIn: number; bytesOut: number };
  readonly socket: TLSSocket;
  readonly http1: boolean;
  active: number;
  /** The head deadline, while no request is in progress. */
  deadline: ReturnType<typeof setTimeout> | undefined;
  /** `socket.bytesRead` when the deadline was set: more by then means a head was begun. */
  bytesAtDeadline: number;
}

/** What an exchange needs from its listener. */
export interface ExchangeSettings {
  readonly fetch: (request: Request, env: ConnectionEnv) => Response | Promise<Response>;
  /** The `Alt-Svc` value every answer carries. */
  readonly altSvc: string;
  readonly maxBodyBytes: number;
  readonly bodyTimeoutMs: number;
  /** How long a blocked answer may wait for the client to read; then the socket is closed. */
  readonly sendTimeoutMs: number;
  /** True once shutdown began: HTTP/1.1 answers then say `Connection: close`. */
  draining: boolean;
}

/** Serves one request: resolves once its answer is written (or given up). */
export async function serveRequest(
  req: AnyRequest,
  res: AnyResponse,
  state: ExchangeSettings,
  env: TcpEnv,
) {
  const method = req.method ?? "GET";
  const authority = (req.headers[":authority"] as string | undefined) ?? req.headers.host ??
    "localhost";
  const target = requestUrl(authority, req.url ?? "/");
  if (target.url === undefined) {
    return writeResponse(
      jsonError(400, "bad_request", target.error),
      res,
      method,
      state,
      env,
      true,
    );
  }
  const fields: [string, string][] = [];
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.charCodeAt(0) === 0x3a || value === undefined) continue;
    if (Array.isArray(value)) { for (const v of value) fields.push([name, v]); }
    else fields.push([name, value]);
  }
  const hasBody = method !== "GET" && method !== "HEAD";
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > state.maxBodyBytes) {
    // The body is not read: the connection closes after the answer rather than draining it.
    const error = new BodyTooLargeError(state.maxBodyBytes);
    return writeResponse(errorAnswer(error), res, method, state, env, true);
  }
  if (!hasBody) {
    // Most requests: no body, so no `Request` nor `Headers` unless a handler asks for them.
    const request = new BodilessRequest(method, target.url, fields) as unknown as Request;
    return writeResponse(await state.fetch(request, env), res, method, state, env);
  }
  const watch = new BodyIdleWatch(state.bodyTimeoutMs, () => bodyStalled(req, res, state, env));
  try {
    const request = new Request(target.url, {
      method,
      headers: fields,
      body: ReadableStream.from(
        countedBody(req as AsyncIterable<Uint8Array>, env, state, watch),
      ),
      // @ts-ignore: needed for streaming request bodies
      duplex: "half",
    });
    await writeResponse(await state.fetch(request, env), res, method, state, env);
  } finally {
    watch.stop();
  }
}

/**
 * A request body stopped arriving: 408 if the answer has not begun (the connection then closes,
 * the rest of the body will never come), else the exchange is cut. Either way the reader's wait
 * ends with {@link BodyTimeoutError}, so the app stops too.
 */
function bodyStalled(req: AnyRequest, res: AnyResponse, state: ExchangeSettings, env: TcpEnv) {
  const error = new BodyTimeoutError(state.bodyTimeoutMs);
  // The reader's wait fails with the error; nobody else may be listening for it.
  req.on("error", () => {});
  if (res.headersSent) {
    req.destroy(error);
    res.destroy?.();
    return;
  }
  res.once("close", () => req.destroy(error)); // once the 408 is out, or the connection gone
  writeResponse(errorAnswer(error), res, "POST", state, env, true).catch(() => res.destroy?.());
}

async function writeResponse(
  response: Response | LightResponse,
  res: AnyResponse,
  method: string,
  state: ExchangeSettings,
  env: TcpEnv,
  close = false,
): Promise<void> {
  // deno-lint-ignore no-explicit-any
  const w = res as any;
  if (w.headersSent || w.writableEnded || w.destroyed) {
    // Answered already (a body that stalled got its 408 meanwhile): this answer is dropped.
    if (!(response instanceof LightResponse)) response.body?.cancel().catch(() => {});
    return;
  }
  if (response instanceof LightResponse && response.fields !== undefined) {
    writeLight(response, response.fields, w, method, state, env, close);
    return;
  }
  const out: Record<string, string | string[]> = { "alt-svc": state.altSvc };
  for (const [name, value] of response.headers) {
    if (name === "set-cookie") {
      const list = out[name];
      out[name] = Array.isArray(list) ? [...list, value] : [value];
    } else if (name !== "connection" && name !== "keep-alive" && name !== "transfer-encoding") {
      out[name] = value;
    }
  }
  // HTTP/1.1 only: in HTTP/2 a connection header is malformed (RFC 9113 §8.2.2).
  if ((close || state.draining) && env.http1) out.connection = "close";
  w.writeHead(response.status, out);
  if (response.body === null || method === "HEAD") {
    response.body?.cancel().catch(() => {});
    w.end();
    return;
  }
  for await (const chunk of response.body) {
    env.counters.bytesOut += chunk.length;
    if (!w.write(chunk)) {
      await writable(w, state.sendTimeoutMs);
      if (w.destroyed) break;
    }
  }
  w.end();
}

/**
 * Writes a light response (see `lib/light_response.ts`) from its field list and bytes, in one
 * `end()`: no `Headers` to iterate, no body stream to read, so head and body leave in one write.
 */
function writeLight(
  response: LightResponse,
  fields: readonly string[],
  // deno-lint-ignore no-explicit-any
  w: any,
  method: string,
  state: ExchangeSettings,
  env: TcpEnv,
  close: boolean,
): void {
  const out: Record<string, string | string[]> = { "alt-svc": state.altSvc };
  for (let i = 2; i < fields.length; i += 2) {
    const name = fields[i];
    if (name === "set-cookie") {
      const list = out[name];
      out[name] = Array.isArray(list) ? [...list, fields[i + 1]] : [fields[i + 1]];
    } else if (name !== "connection" && name !== "keep-alive" && name !== "transfer-encoding") {
      // As `Headers` would: a repeated field is one, its values joined.
      const seen = out[name];
      out[name] = typeof seen === "string" && name !== "alt-svc"
        ? `${seen}, ${fields[i + 1]}`
        : fields[i + 1];
    }
  }
  if ((close || state.draining) && env.http1) out.connection = "close";
  w.writeHead(response.status, out);
  if (method === "HEAD" || response.bodyBytes.length === 0) {
    w.end();
    return;
  }
  env.counters.bytesOut += response.bodyBytes.length;
  w.end(response.bodyBytes);
}

/**
 * Resolves when `w` can take more (`drain`) or is gone (`close`); leaves no listener behind.
 * After `timeoutMs` without either, the client is not reading (or is gone unseen: a socket
 * paused for backpressure does not read, so it cannot see a close): `w` is destroyed.
 */
function writable(
  w: {
    once(event: string, f: () => void): void;
    off(event: string, f: () => void): void;
    destroy(): void;
  },
  timeoutMs: number,
): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      w.off("drain", done);
      w.off("close", done);
      resolve();
    };
    const timer = setTimeout(() => {
      w.destroy();
      done();
    }, timeoutMs);
    w.once("drain", done);
    w.once("close", done);
  });
}

/**
 * The request body as the app reads it: counted, cut at the size limit, and watched for stalls
 * (the watch's clock runs only while this waits for the client).
 */
async function* countedBody(
  body: AsyncIterable<Uint8Array>,
  env: TcpEnv,
  state: ExchangeSettings,
  watch: BodyIdleWatch,
) {
  const chunks = body[Symbol.asyncIterator]();
  let received = 0;
  let finished = false;
  try {
    while (true) {
      watch.waiting();
      const next = await chunks.next();
      watch.arrived();
      if (next.done) {
        finished = true;
        return;
      }
      const chunk = next.value;
      env.counters.bytesIn += chunk.length;
      received += chunk.length;
      if (received > state.maxBodyBytes) throw new BodyTooLargeError(state.maxBodyBytes);
      yield chunk;
    }
  } finally {
    watch.stop();
    // Abandoned early (an error, the limit, or the app cancelled): the request stream is
    // destroyed, as `for await` would.
    if (!finished) await chunks.return?.();
  }
}
