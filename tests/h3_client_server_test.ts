/**
 * Our HTTP/3 client against our server over real QUIC on loopback: many requests on one
 * connection, large uploads and downloads with their hashes, and bounded memory.
 */

import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { sha256Stream, startTestServer } from "./support/server.ts";
import { downloadByte } from "../lib/download.ts";
import { receivedTrailers } from "../lib/h3/client.ts";

Deno.test("HTTP/3: 1,000 sequential requests on one connection", async () => {
  const server = await startTestServer();
  const client = await server.client();
  try {
    let id = "";
    for (let i = 1; i <= 1000; i++) {
      const res = await client.fetch("/api/test");
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.protocol, "h3");
      assert.equal(body.request_count, i);
      if (i === 1) id = body.connection_id;
      else assert.equal(body.connection_id, id);
    }
    assert.equal(server.tracker.get(id)?.requestCount, 1000);
  } finally {
    client.close();
    await server.stop();
  }
});

Deno.test("HTTP/3: 200 concurrent requests on one connection", async () => {
  const server = await startTestServer();
  const client = await server.client();
  try {
    const results = await Promise.all(
      Array.from({ length: 200 }, () =>
        client.fetch("/api/test").then(async (res) => {
          assert.equal(res.status, 200);
          return (await res.json()) as { connection_id: string; request_count: number };
        })),
    );
    const ids = new Set(results.map((r) => r.connection_id));
    assert.equal(ids.size, 1);
    const counts = new Set(results.map((r) => r.request_count));
    assert.equal(counts.size, 200, "every request counted once");
  } finally {
    client.close();
    await server.stop();
  }
});

Deno.test("HTTP/3: a 10 MiB POST is echoed back with the same SHA-256", async () => {
  const server = await startTestServer();
  const client = await server.client();
  try {
    const size = 10 * 1024 * 1024;
    const payload = new Uint8Array(size);
    for (let i = 0; i < size; i += 65536) crypto.getRandomValues(payload.subarray(i, i + 65536));
    const expected = createHash("sha256").update(payload).digest("hex");
    const res = await client.fetch("/api/echo", { method: "POST", body: payload });
    assert.equal(res.status, 200);
    const got = await sha256Stream(res.body!);
    assert.equal(got.bytes, size);
    assert.equal(got.hex, expected);
  } finally {
    client.close();
    await server.stop();
  }
});

Deno.test("HTTP/3: a 256 MiB streamed response arrives whole with bounded memory", async () => {
  const server = await startTestServer();
  const client = await server.client();
  try {
    const size = 256 * 1024 * 1024;
    const before = Deno.memoryUsage().rss;
    const res = await client.fetch(`/api/download?bytes=${size}`, {
      headers: { te: "trailers" },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), String(size));
    let bytes = 0;
    let peak = before;
    let mismatch = -1;
    const hash = createHash("sha256");
    for await (const chunk of res.body!) {
      hash.update(chunk);
      for (const at of [0, chunk.length - 1]) {
        if (mismatch === -1 && chunk[at] !== downloadByte(bytes + at)) mismatch = bytes + at;
      }
      bytes += chunk.length;
      if ((bytes & 0xffffff) < chunk.length) peak = Math.max(peak, Deno.memoryUsage().rss);
    }
    assert.equal(bytes, size);
    assert.equal(mismatch, -1, `content differs at byte ${mismatch}`);
    assert.equal(hash.digest("hex"), receivedTrailers(res)?.get("x-content-sha256"));
    // Client and server share this process: buffering the body on either side would add
    // 256 MiB. Streaming keeps the growth to flow-control windows and GC slack.
    const growth = (peak - before) / (1024 * 1024);
    assert.ok(growth < 128, `RSS grew by ${growth.toFixed(0)} MiB during a 256 MiB transfer`);
  } finally {
    client.close();
    await server.stop();
  }
});

Deno.test("HTTP/3: GOAWAY on shutdown lets the in-flight request finish", async () => {
  const server = await startTestServer();
  const client = await server.client();
  const res = await client.fetch(`/api/download?bytes=${4 * 1024 * 1024}`);
  const stopping = server.stop();
  const got = await sha256Stream(res.body!);
  assert.equal(got.bytes, 4 * 1024 * 1024, "the in-flight response arrived whole");
  assert.equal(client.goawayId, 4, "GOAWAY names the first unserved request stream");
  client.close(); // what a client does once its requests are done after GOAWAY
  await stopping;
  const record = [...server.tracker.closedConnections()][0];
  assert.equal(record.state, "closed");
});
