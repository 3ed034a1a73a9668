/**
 * Binding a UDP socket and a TCP listener on the same port number, as both the server's port
 * (HTTP/3 and HTTPS) and the lab's do. With port 0 the system picks the UDP port, and that
 * number may already be taken for TCP: then the pair is picked again, a few times, so "any free
 * port" holds for both transports.
 * @module
 */

/** How many times a port-0 pair is picked before giving up. */
export const PORT_PAIR_ATTEMPTS = 10;

/** Whether `error` says the address is taken (Deno's error or Node's `EADDRINUSE`). */
export function isAddrInUse(error: unknown): boolean {
  return error instanceof Deno.errors.AddrInUse ||
    (error as { code?: unknown } | null)?.code === "EADDRINUSE";
}

/** How to bind and release each side of a pair. */
export interface PortPairBinding<U, T> {
  /** Whether the port was 0 (any): only then is a taken TCP port retried. */
  anyPort: boolean;
  /** Binds the UDP side (synchronously, as Deno's UDP sockets bind). */
  bindUdp(): U;
  /** The port the UDP side got. */
  portOf(udp: U): number;
  /** Releases a UDP side whose TCP side could not be bound. */
  releaseUdp(udp: U): Promise<unknown>;
  /** Binds the TCP side on `port`. */
  bindTcp(port: number, udp: U): Promise<T>;
}

/** Binds both sides; rejects with the TCP side's error when it cannot be bound (see above). */
export async function bindPortPair<U, T>(binding: PortPairBinding<U, T>): Promise<[U, T]> {
  for (let attempt = 1;; attempt++) {
    const udp = binding.bindUdp();
    try {
      return [udp, await binding.bindTcp(binding.portOf(udp), udp)];
    } catch (error) {
      await binding.releaseUdp(udp);
      const retry = binding.anyPort && attempt < PORT_PAIR_ATTEMPTS && isAddrInUse(error);
      if (!retry) throw error;
    }
  }
}
