/**
 * The QUIC socket's kernel receive buffer: raising it, reading it back, and reading the kernel's
 * count of datagrams it dropped on the socket.
 *
 * Why: quinn leaves the socket at the kernel's default buffer (`net.core.rmem_default`), which
 * holds only some tens of full-size datagrams. While the event loop is busy (a burst of TLS
 * handshakes all runs on Deno's one main thread), a burst of Initials overflows it; each dropped
 * datagram costs its client a retransmission timeout, so a burst of connections takes seconds
 * instead of milliseconds. `Deno.QuicEndpoint` has no socket options, and Deno lets only
 * `--allow-all` read `/proc/self/fd` or `/proc/net/udp`, so the socket is found by asking each
 * descriptor for its type and bound address (`getsockopt`, `getsockname`) and tuned with
 * `setsockopt`, all through FFI. Linux only; needs `--allow-ffi`. Without either, the buffer
 * stays at the default and the report says why.
 *
 * The address parsing is pure ({@link parseSockaddr}); the rest is system calls at start-up and
 * one per metrics scrape.
 * @module
 */

import { formatAddr } from "./addr.ts";

/** What was asked of the kernel and what it gave. */
export interface ReceiveBufferReport {
  /** The receive buffer asked for, in bytes as the kernel reports it (`ss -m` shows `rb`). */
  asked: number;
  /** The buffer the kernel reports now, or null when it could not be read. */
  bytes: number | null;
  /** How it was set: forced past `net.core.rmem_max` (root), capped by it, or not at all. */
  method: "SO_RCVBUFFORCE" | "SO_RCVBUF" | "unchanged";
  /** Why the buffer is below what was asked, when it is; empty otherwise. */
  note: string;
}

/** A bound address read from a `struct sockaddr`. */
export interface SockaddrInfo {
  family: "v4" | "v6";
  port: number;
  /** Dotted quad for IPv4; empty for IPv6 (matched on family and port only). */
  ipv4: string;
}

const SOL_SOCKET = 1;
const SO_TYPE = 3;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;
const SO_MEMINFO = 55;
const SOCK_DGRAM = 2;
const AF_INET = 2;
const AF_INET6 = 10;
/** Index of the drop count in `SO_MEMINFO`'s array (`SK_MEMINFO_DROPS`). */
const MEMINFO_DROPS = 8;
const MEMINFO_FIELDS = 9;
/** Descriptors searched for the socket: bounded, and far above what a server holds at start. */
const MAX_FD_SCAN = 65_536;

const LIBC_SYMBOLS = {
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
} as const;
type Libc = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>;

/** Reads a Linux `struct sockaddr_in`/`sockaddr_in6` (family in host order, port big-endian). */
export function parseSockaddr(bytes: Uint8Array, length: number): SockaddrInfo | null {
  if (length < 8) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, length);
  const family = view.getUint16(0, true);
  const port = view.getUint16(2, false);
  if (family === AF_INET) return { family: "v4", port, ipv4: bytes.subarray(4, 8).join(".") };
  if (family === AF_INET6 && length >= 24) return { family: "v6", port, ipv4: "" };
  return null;
}

/** Whether a socket bound at `bound` is the endpoint that reports `addr`. */
export function sameBinding(bound: SockaddrInfo, addr: Deno.NetAddr): boolean {
  if (bound.port !== addr.port) return false;
  const v6 = addr.hostname.includes(":");
  return v6 ? bound.family === "v6" : bound.family === "v4" && bound.ipv4 === addr.hostname;
}

/**
 * The QUIC socket, found among this process's descriptors, for the life of the endpoint. Its
 * descriptor number is forgotten at {@link close}: after the endpoint closes, the number can be
 * given to another socket.
 */
export class UdpReceiveBuffer {
  readonly report: ReceiveBufferReport;
  /** The socket's address, `ip:port`. */
  readonly addr: string;
  #libc: Libc | null = null;
  #fd = -1;

  /**
   * Finds the UDP socket bound at `addr` and raises its receive buffer to `bytes` (as the kernel
   * reports it; `setsockopt` is given half, which the kernel doubles): `SO_RCVBUFFORCE` first
   * (root or CAP_NET_ADMIN: past `net.core.rmem_max`), then `SO_RCVBUF`. Never throws: a
   * buffer it could not raise is reported with the reason. 0 leaves the buffer as it is.
   */
  constructor(addr: Deno.NetAddr, bytes: number) {
    this.report = { asked: bytes, bytes: null, method: "unchanged", note: "" };
    this.addr = formatAddr(addr);
    if (Deno.build.os !== "linux") {
      this.report.note = "only raised on Linux";
      return;
    }
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
      // Its size cannot be read either: Deno guards /proc/sys as it guards /proc/self/fd.
      this.report.note = "not raised: the server runs without --allow-ffi";
      return;
    }
    try {
      this.#libc = Deno.dlopen("libc.so.6", LIBC_SYMBOLS);
      this.#fd = findSocket(this.#libc, addr);
      if (this.#fd < 0) {
        this.report.note = `not raised: no UDP socket of this process is bound at ${addr.port}`;
        this.close();
        return;
      }
      if (bytes > 0) this.report.method = setReceiveBuffer(this.#libc, this.#fd, bytes);
      this.report.bytes = getInt(this.#libc, this.#fd, SO_RCVBUF);
    } catch (error) {
      this.report.note = `not raised: ${error instanceof Error ? error.message : error}`;
      this.close();
      return;
    }
    if (this.report.bytes !== null && this.report.bytes < bytes) {
      this.report.note = this.report.method === "SO_RCVBUF"
        ? "capped by net.core.rmem_max (run as root, or raise that sysctl)"
        : "the kernel refused to raise it";
    }
  }

  /** Datagrams the kernel dropped on the socket so far, or null when it cannot be read. */
  drops(): number | null {
    if (this.#libc === null) return null;
    const info = new Uint32Array(MEMINFO_FIELDS);
    const length = new Uint32Array([info.byteLength]);
    const rc = this.#libc.symbols.getsockopt(this.#fd, SOL_SOCKET, SO_MEMINFO, info, length);
    return rc === 0 && length[0] > MEMINFO_DROPS * 4 ? info[MEMINFO_DROPS] : null;
  }

  /** Forgets the socket; call before the endpoint closes. */
  close(): void {
    this.#libc?.close();
    this.#libc = null;
    this.#fd = -1;
  }
}

/** The descriptor of this process's datagram socket bound at `addr`, or -1. */
function findSocket(libc: Libc, addr: Deno.NetAddr): number {
  const sockaddr = new Uint8Array(128);
  const length = new Uint32Array(1);
  for (let fd = 0; fd < MAX_FD_SCAN; fd++) {
    if (getInt(libc, fd, SO_TYPE) !== SOCK_DGRAM) continue;
    length[0] = sockaddr.byteLength;
    if (libc.symbols.getsockname(fd, sockaddr, length) !== 0) continue;
    const bound = parseSockaddr(sockaddr, Math.min(length[0], sockaddr.byteLength));
    if (bound !== null && sameBinding(bound, addr)) return fd;
  }
  return -1;
}

function setReceiveBuffer(libc: Libc, fd: number, bytes: number): ReceiveBufferReport["method"] {
  const half = new Int32Array([Math.ceil(bytes / 2)]);
  if (libc.symbols.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, half, 4) === 0) {
    return "SO_RCVBUFFORCE";
  }
  if (libc.symbols.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, half, 4) === 0) return "SO_RCVBUF";
  return "unchanged";
}

function getInt(libc: Libc, fd: number, option: number): number | null {
  const value = new Int32Array(1);
  const length = new Uint32Array([4]);
  return libc.symbols.getsockopt(fd, SOL_SOCKET, option, value, length) === 0 ? value[0] : null;
}

/**
 * Prometheus lines for sockets, each labelled with its role and address: its receive buffer and
 * the kernel's drop count (read now). A count that grows says the buffer is too small for the
 * bursts this server sees.
 */
export function receiveBufferMetrics(
  sockets: readonly { role: string; buffer: UdpReceiveBuffer }[],
): string {
  const sizes: string[] = [];
  const drops: string[] = [];
  for (const { role, buffer } of sockets) {
    const labels = `{socket="${role}",addr="${buffer.addr}"}`;
    if (buffer.report.bytes !== null) {
      sizes.push(`quic_udp_receive_buffer_bytes${labels} ${buffer.report.bytes}`);
    }
    const n = buffer.drops();
    if (n !== null) drops.push(`quic_udp_receive_drops_total${labels} ${n}`);
  }
  const lines: string[] = [];
  if (sizes.length > 0) {
    lines.push(
      "# HELP quic_udp_receive_buffer_bytes UDP sockets' receive buffers, as the kernel reports them.",
      "# TYPE quic_udp_receive_buffer_bytes gauge",
      ...sizes,
    );
  }
  if (drops.length > 0) {
    lines.push(
      "# HELP quic_udp_receive_drops_total Datagrams the kernel dropped on a UDP socket (its receive buffer full).",
      "# TYPE quic_udp_receive_drops_total counter",
      ...drops,
    );
  }
  return lines.join("\n");
}

/** The banner's account of the buffer, e.g. `8 MiB (SO_RCVBUFFORCE)`. */
export function receiveBufferLine(report: ReceiveBufferReport): string {
  const size = (n: number) =>
    n >= 1024 * 1024 && n % (1024 * 1024) === 0
      ? `${n / (1024 * 1024)} MiB`
      : n >= 1024
      ? `${Math.round(n / 1024)} KiB`
      : `${n} bytes`;
  const given = report.bytes !== null
    ? size(report.bytes)
    : report.method === "unchanged"
    ? "the kernel's default"
    : "unknown";
  if (report.asked === 0) return `${given}, the kernel's default (--udp-receive-buffer 0)`;
  if (report.note === "") return `${given} (${report.method})`;
  return `${given}, not the ${size(report.asked)} asked: ${report.note}`;
}
