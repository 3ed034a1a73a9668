/**
 * ngtcp2's client (`gtlsclient`, Debian's `ngtcp2-client`) as the tests run it against a server
 * or a balancer on loopback: three GETs of `/api/test` on one connection, and the statuses it
 * logged. Two ways to run them, for two questions:
 *
 * - {@link threeSpacedGets}: the GETs wait until the hand-off to the preferred address is done,
 *   so all three are served on the node's own path;
 * - {@link threeGetsThenIdle}: the GETs go at once after the handshake (on the balancer's path),
 *   and the client keeps its connection until it has been idle a while, so the hand-off happens
 *   while or after they are served.
 *
 * Why not GETs at once and an exit at the last answer: gtlsclient then closes its connection as
 * soon as the third answer is in, and on loopback the answers can arrive in the same read as the
 * server's HANDSHAKE_DONE, before the client has sent its first probe of the preferred address.
 * A connection that short never moves; that is the client's choice, not a failed hand-off.
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

/** Bound for one client process. */
const RUN_TIMEOUT_MS = 30_000;

/** The delay before the first request that lets a loopback hand-off finish first. */
const HANDOFF_DELAY = "400ms";

/**
 * Three GETs of `/api/test` on one connection to `127.0.0.1:port`, sent {@link HANDOFF_DELAY}
 * after the handshake; the client exits at the last answer (bounded to 30 s).
 */
export function threeSpacedGets(port: number, extra: string[] = []): Promise<Ngtcp2Run> {
  return runThreeGets(port, [
    ...extra,
    `--delay-stream=${HANDOFF_DELAY}`,
    "--exit-on-all-streams-close",
    "--timeout=5s",
  ]);
}

/**
 * Three GETs of `/api/test` on one connection to `127.0.0.1:port`, sent at once after the
 * handshake; the client then keeps the connection until it has been idle `idleSeconds`, and
 * exits (bounded to 30 s).
 */
export function threeGetsThenIdle(
  port: number,
  idleSeconds: number,
  extra: string[] = [],
): Promise<Ngtcp2Run> {
  return runThreeGets(port, [...extra, `--timeout=${idleSeconds}s`]);
}

/**
 * Three GETs of `/api/test` on one connection to `127.0.0.1:port`, sent at once after the
 * handshake; the client exits at the last answer (bounded to 30 s). For load on a server, not
 * for hand-offs (see the module notes).
 */
export function threeGetsAtOnce(port: number): Promise<Ngtcp2Run> {
  return runThreeGets(port, ["--exit-on-all-streams-close", "--timeout=20s"]);
}

async function runThreeGets(port: number, args: string[]): Promise<Ngtcp2Run> {
  const output = await new Deno.Command("gtlsclient", {
    args: [
      ...args,
      ...["--no-quic-dump", "--no-http-dump", "-n", "3", "127.0.0.1", String(port)],
      `https://localhost:${port}/api/test`,
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(RUN_TIMEOUT_MS),
  }).output();
  const text = new TextDecoder().decode(output.stderr);
  const statuses = [...text.matchAll(/http: stream 0x[0-9a-f]+ \[:status: (\d+)\]/g)].map((m) =>
    m[1]
  );
  return { code: output.code, statuses, text };
}
