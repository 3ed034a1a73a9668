/**
 * `/api/download` over HTTP/3 with our client: headers leave at once at any size, the digest
 * still checks the bytes (in the headers for small sizes, as a trailer computed while streaming
 * for large ones), HEAD does no work, and a client that goes away stops the generation.
 */

import { strict as assert } from "node:assert";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { startTestServer, type TestServer } from "./support/server.ts";
import { type H3Client, receivedTrailers } from "../lib/h3/client.ts";
import { DIGEST_IN_HEADERS_MAX, downloadByte, downloadWork } from "../lib/download.ts";

const GIB = 1024 * 1024 * 1024;
/** Generous: the headers need no work, but the machine may be busy with other tests. */
const HEADERS_WITHIN_MS = 1000;

async function withServer(run: (server: TestServer, client: H3Client) => Promise<void>) {
  const server = await startTestServer();
  const client = await server.client();
  try {
    await run(server, client);
  } finally {
    client.close();
    await server.stop();
  }
}

/** Resolves with `promise`'s value and how long it took, in ms. */
async function timed<T>(promise: Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await promise;
  return [value, performance.now() - start];
}

/** Reads a body to its end: its SHA-256 (hex), its length, and the first byte that is wrong. */
async function readDownload(body: ReadableStream<Uint8Array>) {
  const hash = createHash("sha256");
  let bytes = 0;
  let mismatch = -1;
  for await (const chunk of body) {
    hash.update(chunk);
    for (const at of [0, chunk.length >> 1, chunk.length - 1]) {
      if (mismatch === -1 && chunk[at] !== downloadByte(bytes + at)) mismatch = bytes + at;
    }
    bytes += chunk.length;
  }
  return { hex: hash.digest("hex"), bytes, mismatch };
}

/** Reads at least `bytes` of a body that must not end before; resolves with what it read. */
async function readAtLeast(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  bytes: number,
): Promise<number> {
  let read = 0;
  while (read < bytes) {
    const { value, done } = await reader.read();
    assert.ok(!done, "the body ended early");
    read += value.length;
  }
  return read;
}

/** Waits until `done()` holds, checking every few ms, failing after `timeoutMs`. */
async function until(done: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`${what} not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Deno.test("download: the first 1 GiB download's headers arrive at once", () =>
  withServer(async (_server, client) => {
    const [res, ms] = await timed(
      client.fetch(`/api/download?bytes=${GIB}`, { headers: { te: "trailers" } }),
    );
    assert.equal(res.status, 200);
    assert.ok(ms < HEADERS_WITHIN_MS, `headers after ${ms.toFixed(0)} ms`);
    assert.equal(res.headers.get("content-length"), String(GIB));
    assert.equal(res.headers.get("trailer"), "x-content-sha256, repr-digest");
    await res.body!.cancel();
  }));

Deno.test("download: a 64 MiB body checks against the digest trailer computed while it streamed", () =>
  withServer(async (_server, client) => {
    const size = 64 * 1024 * 1024;
    const res = await client.fetch(`/api/download?bytes=${size}`, { headers: { te: "trailers" } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-content-sha256"), null, "a large digest is not in the headers");
    assert.equal(receivedTrailers(res), null, "no trailers before the body was read");
    const got = await readDownload(res.body!);
    assert.equal(got.bytes, size);
    assert.equal(got.mismatch, -1, `content differs at byte ${got.mismatch}`);
    const trailers = receivedTrailers(res);
    assert.equal(trailers?.get("x-content-sha256"), got.hex);
    const base64 = Buffer.from(got.hex, "hex").toString("base64");
    assert.equal(trailers?.get("repr-digest"), `sha-256=:${base64}:`);
  }));

Deno.test("download: without `te: trailers` a large download is not hashed and promises no digest", () =>
  withServer(async (_server, client) => {
    const size = 4 * 1024 * 1024;
    const res = await client.fetch(`/api/download?bytes=${size}`);
    assert.equal(res.headers.get("trailer"), null);
    assert.equal(res.headers.get("x-content-sha256"), null);
    const got = await readDownload(res.body!);
    assert.equal(got.bytes, size);
    assert.equal(receivedTrailers(res), null);
  }));

Deno.test("download: a small download carries its digest in the headers, as before", () =>
  withServer(async (_server, client) => {
    for (const size of [0, 1, 65_537, DIGEST_IN_HEADERS_MAX]) {
      const res = await client.fetch(`/api/download?bytes=${size}`);
      const got = await readDownload(res.body!);
      assert.equal(got.bytes, size);
      assert.equal(res.headers.get("x-content-sha256"), got.hex, `size ${size}`);
      assert.match(res.headers.get("repr-digest") ?? "", /^sha-256=:[A-Za-z0-9+/]{43}=:$/);
    }
  }));

Deno.test("download: 20 parallel HEADs of distinct ~1 GiB sizes answer at once, doing no work", () =>
  withServer(async (server, client) => {
    const others = await Promise.all(Array.from({ length: 3 }, () => server.client()));
    try {
      const clients = [client, ...others];
      const generatedBefore = downloadWork.generatedBytes;
      const sizes = Array.from({ length: 20 }, (_, i) => GIB - 4096 * (i + 1));
      const heads = sizes.map((size, i) =>
        timed(
          clients[i % clients.length].fetch(`/api/download?bytes=${size}`, { method: "HEAD" }),
        )
      );
      const [health, healthMs] = await timed(others[0].fetch("/healthz"));
      assert.equal(health.status, 200);
      await health.body?.cancel();
      assert.ok(healthMs < HEADERS_WITHIN_MS, `/healthz took ${healthMs.toFixed(0)} ms`);
      for (const [i, [res, ms]] of (await Promise.all(heads)).entries()) {
        assert.equal(res.status, 200);
        assert.ok(ms < HEADERS_WITHIN_MS, `HEAD ${i} took ${ms.toFixed(0)} ms`);
        assert.equal(res.headers.get("content-length"), String(sizes[i]));
        assert.equal(res.headers.get("x-content-sha256"), null, "a HEAD computes no digest");
        assert.equal(res.body, null);
      }
      assert.equal(downloadWork.generatedBytes, generatedBefore, "a HEAD generates nothing");
    } finally {
      for (const other of others) other.close();
    }
  }));

Deno.test("download: 20 parallel ~1 GiB GETs get their headers at once, /healthz answers meanwhile", () =>
  withServer(async (server, client) => {
    const others = await Promise.all(Array.from({ length: 3 }, () => server.client()));
    try {
      const clients = [client, ...others];
      const sizes = Array.from({ length: 20 }, (_, i) => GIB - 4096 * (i + 1));
      const gets = sizes.map((size, i) =>
        timed(clients[i % clients.length].fetch(`/api/download?bytes=${size}`, {
          headers: { te: "trailers" },
        }))
      );
      const [health, healthMs] = await timed(others[0].fetch("/healthz"));
      await health.body?.cancel();
      assert.ok(healthMs < HEADERS_WITHIN_MS, `/healthz took ${healthMs.toFixed(0)} ms`);
      const cancelledBefore = downloadWork.cancelled;
      for (const [i, [res, ms]] of (await Promise.all(gets)).entries()) {
        assert.equal(res.status, 200);
        assert.ok(ms < HEADERS_WITHIN_MS, `GET ${i} headers after ${ms.toFixed(0)} ms`);
        await res.body!.cancel();
      }
      // Every client has gone: every generation ends.
      await until(() => downloadWork.cancelled - cancelledBefore === 20, "20 cancellations", 5000);
    } finally {
      for (const other of others) other.close();
    }
  }));

Deno.test("download: a GET the client cancels stops the server's generation", () =>
  withServer(async (_server, client) => {
    const generatedBefore = downloadWork.generatedBytes;
    const cancelledBefore = downloadWork.cancelled;
    const res = await client.fetch(`/api/download?bytes=${GIB}`, { headers: { te: "trailers" } });
    const reader = res.body!.getReader();
    await readAtLeast(reader, 4 * 1024 * 1024);
    await reader.cancel();
    await until(() => downloadWork.cancelled > cancelledBefore, "the server's cancellation", 5000);
    const generated = downloadWork.generatedBytes - generatedBefore;
    // What was read plus what flow control let the server send ahead: nowhere near 1 GiB.
    assert.ok(generated < 64 * 1024 * 1024, `${generated} bytes generated`);
    // The connection stays usable, and serving another request generates nothing more.
    const again = await client.fetch("/api/test");
    assert.equal(again.status, 200);
    await again.body?.cancel();
    assert.equal(downloadWork.generatedBytes - generatedBefore, generated);
  }));

Deno.test("download: its bytes show in the connection's bytes_out while it runs", () =>
  withServer(async (server, client) => {
    const res = await client.fetch(`/api/download?bytes=${GIB}`);
    const reader = res.body!.getReader();
    const read = await readAtLeast(reader, 4 * 1024 * 1024);
    const [conn] = [...server.tracker.openConnections()].filter((c) => c.protocol === "h3");
    const sent = conn.toJSON().bytes_out;
    // Everything read was sent; the rest of the GiB is still to come.
    assert.ok(sent >= read && sent < GIB, `bytes_out ${sent} after reading ${read}`);
    await reader.cancel();
  }));
