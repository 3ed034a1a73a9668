/**
 * What both TCP listeners do around TLS (HTTP/1.1 on `node:tls` in `h1_listener.ts`, HTTP/2 on
 * `node:http2` in `tcp_listener.ts`): count each connection against the cap before its
 * handshake, open the tracker's record for it once TLS is up, bind the port, and wait a bounded
 * time for the last connections to close at shutdown.
 * @module
 */

import type { TLSSocket } from "node:tls";
import { formatAddr } from "../addr.ts";
import type { ConnectionTracker, TrackedConnection } from "../tracker/tracker.ts";
import type { Protocol } from "../tracker/types.ts";
import type { TcpConnectionSlots } from "./tcp_slots.ts";

/** What a raw connection offers before TLS. */
export type RawSocket = { destroy(): void; once(e: string, f: () => void): void };

/** A TLS server as far as these helpers use it. */
interface TlsServer {
  on(event: "connection", listener: (socket: RawSocket) => void): unknown;
  once(event: "error", listener: (error: Error) => void): unknown;
  listen(port: number, hostname: string, listening: () => void): unknown;
  address(): unknown;
}

/**
 * Counts every raw connection against `slots` before TLS, so a flood of handshakes is refused as
 * cheaply as possible: over the cap (reported to `onRefused`) or while `draining()`, it is
 * closed at once. Returns the raw connections open; `onClosed` runs after each one closes.
 */
export function countBeforeTls(
  server: TlsServer,
  slots: TcpConnectionSlots,
  draining: () => boolean,
  onRefused: (() => void) | undefined,
  onClosed: (open: number) => void = () => {},
): Set<RawSocket> {
  const raw = new Set<RawSocket>();
  server.on("connection", (socket) => {
    if (draining() || !slots.take()) {
      socket.destroy();
      if (!draining()) onRefused?.();
      return;
    }
    raw.add(socket);
    socket.once("close", () => {
      raw.delete(socket);
      slots.release();
      onClosed(raw.size);
    });
  });
  return raw;
}

/** A TLS connection's tracker record, its peer's address and its byte counters. */
export interface TlsRecord {
  record: TrackedConnection;
  remote: string;
  counters: { bytesIn: number; bytesOut: number };
}

/**
 * Opens the tracker's record for `socket`, whose handshake just completed: one record per TLS
 * socket, never one derived from its address.
 */
export function openTlsRecord(
  tracker: ConnectionTracker,
  socket: TLSSocket,
  protocol: Protocol,
): TlsRecord {
  const remote = formatAddr({
    hostname: socket.remoteAddress ?? "?",
    port: socket.remotePort ?? 0,
  });
  const local = formatAddr({ hostname: socket.localAddress ?? "?", port: socket.localPort ?? 0 });
  const record = tracker.open(
    protocol,
    remote,
    local,
    (socket as unknown as { servername?: string }).servername || null,
  );
  const counters = { bytesIn: 0, bytesOut: 0 };
  record.counters = counters;
  return { record, remote, counters };
}

/** Binds `server` to `hostname:port`; resolves with the port bound, rejects when it cannot. */
export async function listenOn(server: TlsServer, port: number, hostname: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => resolve());
  });
  const address = server.address() as { port?: number } | null;
  return typeof address === "object" && address?.port ? address.port : port;
}

/**
 * Resolves when `register`'s callback is called (the last connection closed) or after
 * `timeoutMs`, whichever comes first; the timer is cleared either way.
 */
export async function closedWithin(
  register: (allClosed: () => void) => void,
  timeoutMs: number,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await new Promise<void>((resolve) => {
    register(resolve);
    timer = setTimeout(resolve, timeoutMs);
  });
  clearTimeout(timer);
}
