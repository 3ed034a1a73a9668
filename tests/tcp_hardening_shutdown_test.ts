/**
 * Shutdown over TCP drains like HTTP/3 does: a download in flight when shutdown begins is
 * finished, idle keep-alive connections are closed at once, new connections are refused, and
 * whatever still runs at the deadline is cut. Also: waiting for a slow reader, many times over,
 * leaves no listener behind (no `MaxListenersExceededWarning`). A child process is SIGTERMed
 * mid-download in `tcp_hardening_process_test.ts`.
 */

import { downloadSha256 } from "../lib/download.ts";
import { strict as assert } from "node:assert";
import process from "node:process";
import { createHash } from "node:crypto";
import { startTestServer, type TestServer } from "./support/server.ts";
import { RawHttps, since } from "./support/raw_https.ts";
import { withTimeout } from "../lib/timeout.ts";

const MiB = 1024 * 1024;
/** Slack on top of a deadline before a test calls it missed (a busy 2-core machine). */
const SLACK_MS = 2500;

/** Shuts `server` down (already done by the test) and removes its data directory. */
async function cleanUp(server: TestServer, shutdown: Promise<void>): Promise<void> {
  await shutdown;
  await Deno.remove(server.dataDir, { recursive: true });
}

/** A reader of `GET /api/download?bytes=N` over HTTPS (HTTP/1.1), with its expected SHA-256. */
async function download(server: TestServer, client: Deno.HttpClient, bytes: number) {
  const res = await fetch(`https://127.0.0.1:${server.port}/api/download?bytes=${bytes}`, {
    client,
  });
  assert.equal(res.status, 200);
  // Over TCP a large download carries no digest: the test recomputes it from the formula.
  return { reader: res.body!.getReader(), sha: downloadSha256(bytes) };
}

/** Reads `reader` to its end, hashing; `first` is what was read already. */
async function readRest(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  first: Uint8Array,
): Promise<{ bytes: number; hex: string }> {
  const hash = createHash("sha256").update(first);
  let bytes = first.length;
  for (let i = 0; i < 1_000_000; i++) {
    const { value, done } = await reader.read();
    if (done) break;
    hash.update(value);
    bytes += value.length;
  }
  return { bytes, hex: hash.digest("hex") };
}

Deno.test("tcp shutdown: a download in flight finishes, idle connections close at once, new ones are refused", async () => {
  const server = await startTestServer();
  const client = Deno.createHttpClient({ caCerts: [server.caPem] });
  const idle = await RawHttps.connect(server.port, server.caPem);
  let shutdown: Promise<void> = Promise.resolve();
  try {
    await idle.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert.equal((await idle.response(SLACK_MS)).status, 200);
    const size = 24 * MiB;
    const { reader, sha } = await download(server, client, size);
    const first = await reader.read();
    assert.ok(!first.done && first.value.length < size, "the download has begun, not ended");

    const started = performance.now();
    shutdown = server.shutdown(10_000);
    const closed = await idle.untilClosed(SLACK_MS);
    assert.ok(closed.ended && closed.text === "", "the idle connection is closed, unanswered");
    assert.ok(since(started) < SLACK_MS, `idle closed after ${since(started)} ms`);
    await assert.rejects(
      RawHttps.connect(server.port, server.caPem),
      "no new connections once shutdown began",
    );

    const rest = await withTimeout(readRest(reader, first.value), 20_000, "the download's rest");
    assert.equal(rest.bytes, size, "the whole download arrived");
    assert.equal(rest.hex, sha);
    await withTimeout(shutdown, 10_000, "shutdown, once the download is done");
  } finally {
    idle.close();
    client.close();
    await cleanUp(server, shutdown);
  }
});

Deno.test("tcp shutdown: what still runs at the deadline is cut, and shutdown ends in time", async () => {
  const server = await startTestServer();
  const client = Deno.createHttpClient({ caCerts: [server.caPem] });
  let shutdown: Promise<void> = Promise.resolve();
  try {
    // A client that stops reading: its answer can never finish.
    const { reader } = await download(server, client, 512 * MiB);
    const first = await reader.read();
    assert.ok(!first.done);
    const deadline = 600;
    const started = performance.now();
    shutdown = server.shutdown(deadline);
    await withTimeout(shutdown, deadline + SLACK_MS, "shutdown at its deadline");
    assert.ok(since(started) >= deadline - 50, `ended after ${since(started)} ms, not before`);
    const rest = await withTimeout(
      readRest(reader, first.value).then(({ bytes }) => bytes, () => -1),
      SLACK_MS * 4,
      "the cut download's end",
    );
    assert.ok(rest < 512 * MiB, `the download was cut (${rest} bytes, -1 = failed)`);
  } finally {
    client.close();
    await cleanUp(server, shutdown);
  }
});

Deno.test("tcp: waiting on a slow reader many times leaves no listener behind", async () => {
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
  process.on("warning", onWarning);
  const server = await startTestServer();
  const client = Deno.createHttpClient({ caCerts: [server.caPem] });
  try {
    const size = 32 * MiB;
    const { reader, sha } = await download(server, client, size);
    // Slow reading: the server's writes back up and wait for 'drain', again and again.
    const hash = createHash("sha256");
    let bytes = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const { value, done } = await reader.read();
      if (done) break;
      hash.update(value);
      bytes += value.length;
      if (i % 16 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(bytes, size);
    assert.equal(hash.digest("hex"), sha);
    // A warning is emitted on the next tick after the listener that crossed the limit.
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(warnings.filter((w) => w.startsWith("MaxListenersExceededWarning")), []);
  } finally {
    process.off("warning", onWarning);
    client.close();
    await server.stop();
  }
});
