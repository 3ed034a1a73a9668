/**
 * Free ports for tests, benchmarks and tools that start servers: the server binds TCP and UDP
 * on the same number, so the port must be free for both.
 * @module
 */

/** A port free for both TCP and UDP on 127.0.0.1 right now, not in `exclude` (50 attempts). */
export function freePort(exclude: number[] = []): number {
  for (let attempt = 0; attempt < 50; attempt++) {
    const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (tcp.addr as Deno.NetAddr).port;
    try {
      if (exclude.includes(port)) continue;
      const udp = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port });
      udp.close();
      return port;
    } catch {
      // the UDP side is taken: try another
    } finally {
      tcp.close();
    }
  }
  throw new Error("no free TCP+UDP port on 127.0.0.1 after 50 attempts");
}
