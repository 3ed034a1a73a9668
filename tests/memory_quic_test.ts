/**
 * The in-memory QUIC pair (`tests/support/memory_quic.ts`) keeps the promises the connection
 * tests rely on: stream ends, stream credit, connection close and idle timeout, migration; and
 * the HTTP/3 client and server codecs talk to each other over it.
 */

import { strict as assert } from "node:assert";
import { H3Client } from "../lib/h3/client.ts";
import { H3ServerConnection } from "../lib/h3/server.ts";
import { settle } from "./support/fake_clock.ts";
import { within } from "./support/h3_pair.ts";
import { MemoryQuicPair } from "./support/memory_quic.ts";

const bytes = (n: number) => new Uint8Array(n).fill(7);

async function readAll(readable: ReadableStream<Uint8Array>): Promise<number> {
  let total = 0;
  for await (const chunk of readable) total += chunk.length;
  return total;
}

Deno.test("memory pair: H3Client and H3ServerConnection talk over it", async () => {
  const pair = new MemoryQuicPair();
  const server = new H3ServerConnection(pair.server, async (request) => {
    const body = request.method === "POST" ? await request.text() : "hello";
    return new Response(`${request.method} ${new URL(request.url).pathname} ${body}`);
  }, undefined);
  const served = server.serve();
  const client = new H3Client(pair.client, "localhost:443");
  await client.start();
  const get = await within(client.fetch("/a"));
  assert.equal(await get.text(), "GET /a hello");
  const post = await within(client.fetch("/b", { method: "POST", body: "x".repeat(100_000) }));
  assert.equal(await post.text(), `POST /b ${"x".repeat(100_000)}`);
  assert.equal(server.bytesIn, 100_000);
  client.close();
  assert.equal((await within(served)).closeCode, 0x100);
});

Deno.test("memory pair: stream IDs, FIN, and a writer held back by stream credit", async () => {
  const pair = new MemoryQuicPair({ streamWindow: 1000 });
  const incoming = pair.server.incomingBidirectionalStreams.getReader();
  const a = await pair.client.createBidirectionalStream();
  const b = await pair.client.createBidirectionalStream();
  const s = await pair.server.createBidirectionalStream();
  assert.deepEqual([a.id, b.id, s.id], [0, 4, 1], "RFC 9000 §2.1 stream IDs");
  const theirs = (await incoming.read()).value!;
  const writer = a.writable.getWriter();
  await writer.write(bytes(600)); // fits the window
  let written = false;
  const second = writer.write(bytes(600)).then(() => (written = true));
  await settle();
  assert.ok(!written, "a write beyond the window waits for the reader");
  const reader = theirs.readable.getReader();
  assert.equal((await reader.read()).value?.length, 600);
  await within(second, "the write once the reader made room");
  await writer.close();
  assert.equal((await reader.read()).value?.length, 600);
  assert.ok((await reader.read()).done, "FIN");
  assert.deepEqual(pair.streamEnds(0)?.[0], { sent: "fin", stopped: false });
});

Deno.test("memory pair: STOP_SENDING fails the writer, RESET_STREAM the reader", async () => {
  const pair = new MemoryQuicPair();
  const incoming = pair.server.incomingBidirectionalStreams.getReader();
  const mine = await pair.client.createBidirectionalStream();
  const theirs = (await incoming.read()).value!;
  await theirs.readable.cancel();
  await assert.rejects(mine.writable.getWriter().write(bytes(1)), /STOP_SENDING/);
  await theirs.writable.abort();
  await assert.rejects(mine.readable.getReader().read(), /RESET_STREAM/);
  assert.deepEqual(pair.streamEnds(0), [
    { sent: "open", stopped: true },
    { sent: "reset", stopped: false },
  ]);
});

Deno.test("memory pair: close(info) reaches both sides and fails open streams", async () => {
  const pair = new MemoryQuicPair();
  const uni = await pair.client.createUnidirectionalStream();
  const incoming = pair.server.incomingUnidirectionalStreams.getReader();
  const readable = (await incoming.read()).value!;
  const reading = readAll(readable);
  pair.server.close({ closeCode: 0x10c, reason: "bye" });
  assert.deepEqual(await within(pair.client.closed), { closeCode: 0x10c, reason: "bye" });
  assert.deepEqual(await within(pair.server.closed), { closeCode: 0x10c, reason: "bye" });
  await assert.rejects(reading, /connection closed/);
  await assert.rejects(uni.getWriter().write(bytes(1)), /connection closed/);
  assert.ok((await incoming.read()).done, "no more incoming streams");
  await assert.rejects(pair.client.createBidirectionalStream(), /connection closed/);
  pair.client.close({ closeCode: 1, reason: "again" }); // later closes change nothing
  assert.equal((await pair.client.closed).closeCode, 0x10c);
});

Deno.test("memory pair: an idle timeout rejects both sides; migration moves remoteAddr", async () => {
  const pair = new MemoryQuicPair({ clientAddr: { hostname: "198.18.0.2", port: 1000 } });
  assert.deepEqual(pair.server.remoteAddr, { hostname: "198.18.0.2", port: 1000 });
  pair.migrate({ hostname: "198.18.1.2", port: 2000 });
  assert.deepEqual(pair.server.remoteAddr, { hostname: "198.18.1.2", port: 2000 });
  pair.idleTimeout();
  await assert.rejects(pair.client.closed, /idle timeout/);
  await assert.rejects(pair.server.closed, /idle timeout/);
});
