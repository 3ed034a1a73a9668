/**
 * Read backpressure for `node:tls` server sockets in Deno 2.9.6.
 *
 * When a request body is not consumed (its reader waits for a response the client never reads),
 * `node:http` pauses the socket, which calls `readStop()` on its TLS handle. In Node that stops
 * the TCP reads underneath; in Deno's native TLS wrap it only withholds the decrypted bytes from
 * JavaScript and keeps them in native memory while it goes on reading the TCP socket, so a
 * client that sends a large body and never reads the answer grows the process by the whole body
 * (outside the JavaScript heap), and the TCP window never closes. Stopping and starting the TCP
 * handle along with the TLS handle restores Node's behaviour: a paused socket is not read, the
 * kernel's receive buffer fills, and the client's sends stall.
 * @module
 */

/** The parts of Deno's TLS handle this touches (not public API: checked before use). */
interface NativeHandle {
  readStop(): number;
  readStart(): number;
}
interface TlsHandle extends NativeHandle {
  _nativeTcpHandle?: NativeHandle | null;
}

const PATCHED = Symbol("tlsReadBackpressure");

/**
 * Makes a paused `socket` stop reading its TCP connection too. Returns false (and changes
 * nothing) when the socket's handle is not the shape this expects, e.g. on a Deno that no longer
 * needs it; callers may ignore the result.
 */
export function propagateReadStop(socket: object): boolean {
  const handle = (socket as { _handle?: TlsHandle & { [PATCHED]?: true } })._handle;
  const tcp = handle?._nativeTcpHandle;
  if (
    handle === undefined || handle[PATCHED] || typeof handle.readStop !== "function" ||
    typeof handle.readStart !== "function" || typeof tcp?.readStop !== "function" ||
    typeof tcp.readStart !== "function"
  ) {
    return false;
  }
  const stopTls = handle.readStop;
  const startTls = handle.readStart;
  // Only a read this stopped is started again: the TCP handle is already reading otherwise.
  let tcpStopped = false;
  handle.readStop = function () {
    const native = this._nativeTcpHandle; // detached once the socket closes
    if (!tcpStopped && native) {
      native.readStop();
      tcpStopped = true;
    }
    return stopTls.call(this);
  };
  handle.readStart = function () {
    const native = this._nativeTcpHandle;
    if (tcpStopped && native) {
      tcpStopped = false;
      native.readStart();
    }
    return startTls.call(this);
  };
  handle[PATCHED] = true;
  return true;
}
