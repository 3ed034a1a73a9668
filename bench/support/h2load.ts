/**
 * `h2load --h1` as the HTTP/1.1-over-TLS load client: its command line for N GETs spread over
 * C keep-alive connections, one request at a time on each (HTTP/1.1 has no multiplexing and
 * h2load does not pipeline with `-m 1`). Shared by the bench's `tcp` scenario and the profiler's
 * TCP mode, so that both load the server the same way.
 * @module
 */

/** h2load sending `requests` GETs of `path` over `connections` HTTP/1.1 connections. */
export function h2loadH1Command(
  port: number,
  requests: number,
  connections: number,
  path = "/healthz",
): string[] {
  return [
    "h2load",
    "--h1",
    "-n",
    String(requests),
    "-c",
    String(connections),
    "-m",
    "1",
    `https://127.0.0.1:${port}${path}`,
  ];
}
