/**
 * Real peers against the server: ngtcp2's client and headless Chromium over HTTP/3, curl over
 * HTTP/2. These never skip: a missing peer fails its test (the test task installs them).
 */

import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "./support/server.ts";

async function exec(cmd: string, args: string[], timeoutMs: number) {
  const out = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("ngtcp2 client: 200 requests on one connection all get 200", async () => {
  const server = await startTestServer();
  try {
    const url = `https://localhost:${server.port}/api/test`;
    const result = await exec("gtlsclient", [
      "--exit-on-all-streams-close",
      "--no-quic-dump",
      "--no-http-dump",
      "-n",
      "200",
      "127.0.0.1",
      String(server.port),
      url,
    ], 30_000);
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    const statuses = [...result.stderr.matchAll(/http: stream 0x[0-9a-f]+ \[:status: (\d+)\]/g)]
      .map((m) => m[1]);
    assert.equal(statuses.length, 200, `saw ${statuses.length} response heads`);
    assert.ok(statuses.every((s) => s === "200"), `statuses: ${[...new Set(statuses)]}`);
    const closed = [...server.tracker.closedConnections(), ...server.tracker.openConnections()];
    assert.equal(closed.length, 1, "one QUIC connection");
    assert.equal(closed[0].requestCount, 200);
  } finally {
    await server.stop();
  }
});

Deno.test("Chromium forced onto QUIC loads /api/test over h3", async () => {
  const server = await startTestServer();
  const profile = await Deno.makeTempDir({ prefix: "chromium-" });
  try {
    const result = await exec("chromium", [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      `--origin-to-force-quic-on=localhost:${server.port}`,
      `--ignore-certificate-errors-spki-list=${server.certificates.spkiSha256Base64}`,
      "--host-resolver-rules=MAP localhost 127.0.0.1",
      "--dump-dom",
      `https://localhost:${server.port}/api/test`,
    ], 60_000);
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    const json = result.stdout.match(/<pre[^>]*>(.*)<\/pre>/s)?.[1];
    assert.ok(json, `no JSON in the page: ${result.stdout.slice(0, 500)}`);
    const body = JSON.parse(json);
    assert.equal(body.protocol, "h3");
    assert.equal(server.tracker.get(body.connection_id)?.protocol, "h3");
  } finally {
    await server.stop();
    await Deno.remove(profile, { recursive: true });
  }
});

/** curl against `server` over TCP, trusting its dev CA, with localhost pinned to 127.0.0.1. */
function curlTcp(server: TestServer, ...flags: string[]) {
  return exec("curl", [
    "-s",
    ...flags,
    "--cacert",
    `${server.dataDir}/certs/ca.pem`,
    "--resolve",
    `localhost:${server.port}:127.0.0.1`,
    `https://localhost:${server.port}/api/test`,
  ], 20_000);
}

Deno.test("curl over TCP gets HTTP/1.1 (h2 is opt-in) and sees Alt-Svc advertising HTTP/3", async () => {
  const server = await startTestServer();
  try {
    // Asked for h2, curl gets HTTP/1.1: the server offers only http/1.1 in ALPN by default.
    const result = await curlTcp(server, "-i", "--http2");
    assert.equal(result.code, 0, result.stderr);
    const [head, body] = result.stdout.split("\r\n\r\n");
    assert.match(head, /^HTTP\/1\.1 200/);
    assert.match(head, new RegExp(`alt-svc: h3=":${server.port}"; ma=86400`, "i"));
    assert.match(head, /x-protocol: http\/1\.1/i);
    assert.equal(JSON.parse(body).protocol, "http/1.1");
  } finally {
    await server.stop();
  }
});

Deno.test("curl over TCP gets h2 when --tcp-h2 is on", async () => {
  const server = await startTestServer([], { tcpHttp2: true });
  try {
    const result = await curlTcp(server, "-i", "--http2");
    assert.equal(result.code, 0, result.stderr);
    const [head, body] = result.stdout.split("\r\n\r\n");
    assert.match(head, /^HTTP\/2 200/);
    assert.match(head, new RegExp(`alt-svc: h3=":${server.port}"; ma=86400`, "i"));
    assert.equal(JSON.parse(body).protocol, "h2");
    const h1 = await curlTcp(server, "--http1.1");
    assert.equal(JSON.parse(h1.stdout).protocol, "http/1.1");
  } finally {
    await server.stop();
  }
});

Deno.test("h2load over TCP cannot bring the default server down (denoland/deno#36788)", async () => {
  // With HTTP/2 on, two of these runs abort Deno 2.9.6 inside nghttp2 when h2load's GOAWAY
  // arrives; the default server speaks HTTP/1.1 on TCP and must survive all of them.
  const server = await startTestServer();
  try {
    for (let run = 0; run < 5; run++) {
      const out = await exec("h2load", [
        ...["-n", "100", "-c", "1", "-m", "1"],
        `https://127.0.0.1:${server.port}/healthz`,
      ], 30_000);
      assert.match(out.stdout, /100 succeeded, 0 failed/, `run ${run + 1}: ${out.stdout}`);
    }
    const after = await curlTcp(server, "--http1.1");
    assert.equal(JSON.parse(after.stdout).protocol, "http/1.1");
  } finally {
    await server.stop();
  }
});

Deno.test("ngtcp2 active migration (--change-local-addr): served, one migration, new port", async () => {
  const lines: string[] = [];
  const server = await startTestServer(lines);
  try {
    const result = await exec("gtlsclient", [
      "--change-local-addr=300ms",
      "--delay-stream=900ms",
      "--exit-on-all-streams-close",
      "--no-quic-dump",
      "--no-http-dump",
      "127.0.0.1",
      String(server.port),
      `https://localhost:${server.port}/api/test`,
    ], 30_000);
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    assert.match(result.stderr, /http: stream 0x0 \[:status: 200\]/);
    assert.match(result.stderr, /PATH_CHALLENGE/, "the client validated its new path");
    const conns = [...server.tracker.closedConnections(), ...server.tracker.openConnections()];
    assert.equal(conns.length, 1, "one QUIC connection, not a new one after the move");
    const info = conns[0].toJSON();
    assert.equal(info.migration_count, 1);
    const m = info.migration_events[0];
    assert.notEqual(m.old_addr, m.new_addr);
    assert.equal(m.kind, "port_change");
    assert.equal(m.validated, true, "the new path served the request");
    assert.equal(info.remote_addr, m.new_addr);
    assert.ok(
      lines.some((l) =>
        l.startsWith(`🔄 Connection Migration detected! ${m.old_addr} -> ${m.new_addr}`)
      ),
    );
  } finally {
    await server.stop();
  }
});
