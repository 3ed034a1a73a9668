/**
 * ngtcp2's client (`gtlsclient`, Debian's `ngtcp2-client`) as the tests run it against a server
 * or a balancer on loopback: three GETs of `/api/test`, spaced out so traffic follows the
 * handshake, and the statuses it logged.
 *
 * ```ts
 * const run = await threeSpacedGets(port, ["--no-preferred-addr"]);
 * run.statuses; // ["200", "200", "200"]
 * ```
 * @module
 */

/** What a run printed: its exit code, each response's `:status`, and its log. */
export interface Ngtcp2Run {
  code: number;
  statuses: string[];
  text: string;
}

/** Three spaced GETs of `/api/test` on one connection to `127.0.0.1:port` (bounded to 30 s). */
export async function threeSpacedGets(port: number, extra: string[] = []): Promise<Ngtcp2Run> {
  const output = await new Deno.Command("gtlsclient", {
    args: [
      ...extra,
      ...["--no-quic-dump", "--no-http-dump", "-n", "3", "--delay-stream=400ms"],
      ...["--exit-on-all-streams-close", "--timeout=5s", "127.0.0.1", String(port)],
      `https://localhost:${port}/api/test`,
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const text = new TextDecoder().decode(output.stderr);
  const statuses = [...text.matchAll(/http: stream 0x[0-9a-f]+ \[:status: (\d+)\]/g)].map((m) =>
    m[1]
  );
  return { code: output.code, statuses, text };
}
