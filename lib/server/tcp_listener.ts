/**
 * HTTPS over TCP for the same Hono app, adding `Alt-Svc` so curl and browsers discover HTTP/3 on
 * the same port. HTTP/1.1 by default; HTTP/2 as well with `http2: true`.
 *
 * Built on Deno's `node:https` / `node:http2` rather than `Deno.serve`: `Deno.serve` tells a
 * handler neither the protocol ALPN chose nor where one TCP connection ends and the next begins,
 * so it could only guess both. Here each TLS connection is an object with an ALPN protocol and a
 * `close` event, which the tracker records as observed.
 *
 * Why HTTP/2 is off by default: in Deno 2.9.6, a peer's GOAWAY can abort the whole process inside
 * nghttp2 (`find_stream_on_goaway_func: Assertion 'stream->closed_next == NULL'`,
 * denoland/deno#36788), before any JavaScript runs, so nothing here could catch it; `h2load`
 * triggers it within two runs. `node:https` (HTTP/1.1) does not use nghttp2.
 * @module
 */

import { DEFAULT_LIMITS } from "../limits.ts";
import https from "node:https";
import http2 from "node:http2";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { formatAddr } from "../addr.ts";
import { BodyTooLargeError, jsonError } from "../http_error.ts";
import type { ConnectionTracker } from "../tracker/tracker.ts";
import type { ConnectionEnv } from "../connection_env.ts";

/** Options for the TCP listener. */
export interface TcpListenerOptions {
  hostname: string;
  port: number;
  cert: string;
  key: string;
  fetch: (request: Request, env: ConnectionEnv) => Response | Promise<Response>;
  tracker: ConnectionTracker;
  /** The `Alt-Svc` value to advertise, e.g. `h3=":9443"; ma=86400`. */
  altSvc: string;
  /** TCP connections open at once; further ones are closed at once (default: `lib/limits.ts`). */
  maxConnections?: number;
  /** Called when a connection is refused because of `maxConnections`. */
  onRefused?: () => void;
  /** Largest request body, in bytes; more gets 413 (default: `lib/limits.ts`). */
  maxBodyBytes?: number;
  /** Offer HTTP/2 (ALPN h2) besides HTTP/1.1; off by default (see the module note). */
  http2?: boolean;
  /**
   * Milliseconds a connection may go without a request in progress (default: `lib/limits.ts`): from the
   * handshake, or the end of its last response, to its next complete request head. A slowloris
   * (a head trickled in, or never) or a forgotten keep-alive connection is closed then.
   * (Deno's `node:https` does not apply `headersTimeout`, so this is done on the socket.)
   */
  headerTimeoutMs?: number;
}

/** A running TCP listener. */
export interface TcpListenerHandle {
  readonly port: number;
  shutdown(): Promise<void>;
}

const ENV = Symbol("connectionEnv");
/** A TCP connection's env plus its body byte counters and its requests in progress. */
interface TcpEnv extends ConnectionEnv {
  readonly counters: { bytesIn: number; bytesOut: number };
  readonly socket: TLSSocket;
  active: number;
}
type Socket = TLSSocket & { [ENV]?: TcpEnv };
type AnyRequest = IncomingMessage | http2.Http2ServerRequest;
type AnyResponse = ServerResponse | http2.Http2ServerResponse;

/** Binds the TCP port and starts serving. */
export async function startTcpListener(options: TcpListenerOptions): Promise<TcpListenerHandle> {
  const onRequest = (req: AnyRequest, res: AnyResponse) => {
    handle(req, res, options).catch(() => {
      res.destroy?.();
    });
  };
  const tls = { cert: options.cert, key: options.key };
  const server = options.http2
    ? http2.createSecureServer({ ...tls, allowHTTP1: true }, onRequest)
    : https.createServer(tls, onRequest);
  const sockets = new Set<Socket>();
  const maxConnections = options.maxConnections ?? DEFAULT_LIMITS.maxConnections;
  const headerTimeoutMs = options.headerTimeoutMs ?? DEFAULT_LIMITS.headerTimeoutMs;
  let rawOpen = 0;
  // Counted before TLS, so a flood of handshakes is refused as cheaply as possible.
  server.on("connection", (socket: { destroy(): void; once(e: string, f: () => void): void }) => {
    if (rawOpen >= maxConnections) {
      socket.destroy();
      options.onRefused?.();
      return;
    }
    rawOpen++;
    socket.once("close", () => rawOpen--);
  });
  server.on("secureConnection", (socket: Socket) => {
    const protocol = socket.alpnProtocol === "h2" ? "h2" : "http/1.1";
    const remote = formatAddr({
      hostname: socket.remoteAddress ?? "?",
      port: socket.remotePort ?? 0,
    });
    const local = formatAddr({ hostname: socket.localAddress ?? "?", port: socket.localPort ?? 0 });
    const record = options.tracker.open(
      protocol,
      remote,
      local,
      (socket as unknown as { servername?: string }).servername || null,
    );
    const counters = { bytesIn: 0, bytesOut: 0 };
    record.counters = counters;
    socket[ENV] = { connection: record, remoteAddr: () => remote, counters, socket, active: 0 };
    socket.setTimeout(headerTimeoutMs);
    socket.on("timeout", () => {
      if (socket[ENV]!.active === 0) socket.destroy();
    });
    sockets.add(socket);
    socket.once("close", (hadError: boolean) => {
      sockets.delete(socket);
      options.tracker.close(
        record,
        hadError ? "TCP connection closed on an error" : "TCP connection closed",
        hadError ? "error" : "normal",
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : options.port,
    async shutdown() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
  };
}

async function handle(req: AnyRequest, res: AnyResponse, options: TcpListenerOptions) {
  const env = (req.socket as Socket)[ENV];
  if (env === undefined) throw new Error("request on an untracked socket");
  // While a request is in progress the connection is not idle: no header timeout.
  if (env.active++ === 0) env.socket.setTimeout(0);
  try {
    await serveRequest(req, res, options, env);
  } finally {
    if (--env.active === 0) {
      env.socket.setTimeout(options.headerTimeoutMs ?? DEFAULT_LIMITS.headerTimeoutMs);
    }
  }
}

async function serveRequest(
  req: AnyRequest,
  res: AnyResponse,
  options: TcpListenerOptions,
  env: TcpEnv,
) {
  const authority = (req.headers[":authority"] as string | undefined) ?? req.headers.host ??
    "localhost";
  const method = req.method ?? "GET";
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.charCodeAt(0) === 0x3a || value === undefined) continue;
    if (Array.isArray(value)) { for (const v of value) headers.append(name, v); }
    else headers.set(name, value);
  }
  const hasBody = method !== "GET" && method !== "HEAD";
  const maxBody = options.maxBodyBytes ?? DEFAULT_LIMITS.maxBodyBytes;
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > maxBody) {
    const error = new BodyTooLargeError(maxBody);
    return writeResponse(
      jsonError(413, "body_too_large", error.message),
      res,
      method,
      options,
      env,
    );
  }
  const request = new Request(`https://${authority}${req.url}`, {
    method,
    headers,
    body: hasBody
      ? ReadableStream.from(countedBody(req as AsyncIterable<Uint8Array>, env, maxBody))
      : null,
    // @ts-ignore: needed for streaming request bodies
    duplex: "half",
  });
  await writeResponse(await options.fetch(request, env), res, method, options, env);
}

async function writeResponse(
  response: Response,
  res: AnyResponse,
  method: string,
  options: TcpListenerOptions,
  env: TcpEnv,
): Promise<void> {
  const out: Record<string, string | string[]> = { "alt-svc": options.altSvc };
  for (const [name, value] of response.headers) {
    if (name === "set-cookie") {
      const list = out[name];
      out[name] = Array.isArray(list) ? [...list, value] : [value];
    } else if (name !== "connection" && name !== "keep-alive" && name !== "transfer-encoding") {
      out[name] = value;
    }
  }
  // deno-lint-ignore no-explicit-any
  const w = res as any;
  w.writeHead(response.status, out);
  if (response.body === null || method === "HEAD") {
    response.body?.cancel().catch(() => {});
    w.end();
    return;
  }
  for await (const chunk of response.body) {
    env.counters.bytesOut += chunk.length;
    if (!w.write(chunk)) {
      // Wait for the socket to drain, or to close (then the loop's next write fails fast).
      await new Promise((resolve) => {
        w.once("drain", resolve);
        w.once("close", resolve);
      });
      if (w.destroyed) break;
    }
  }
  w.end();
}

async function* countedBody(body: AsyncIterable<Uint8Array>, env: TcpEnv, maxBody: number) {
  let received = 0;
  for await (const chunk of body) {
    env.counters.bytesIn += chunk.length;
    received += chunk.length;
    if (received > maxBody) throw new BodyTooLargeError(maxBody);
    yield chunk;
  }
}
