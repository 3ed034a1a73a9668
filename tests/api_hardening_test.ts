/**
 * The API under the load an attacker can put on it, over real HTTP/3 on loopback: many live
 * event streams, an event stream that is never read, and large JSON bodies. Each test
 * reproduces an attack and checks its bound; the time bounds are generous (they are about
 * starvation, not speed, on a busy two-core machine). Response headers, file modes and error
 * details are in `api_hardening_responses_test.ts`.
 */

import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "./support/server.ts";
import { readToEnd, type SseMessage, sseReader } from "./support/sse.ts";
import type { H3Client } from "../lib/h3/client.ts";
import { DEFAULT_LIMITS } from "../lib/limits.ts";
import { withTimeout } from "../lib/timeout.ts";

/** What a healthy request may take while the server is under attack: far above normal. */
const HEALTHZ_BOUND_MS = 3000;

/** A sample of `/metrics` by its exact name. */
async function metric(client: H3Client, name: string): Promise<number> {
  const text = await (await client.fetch("/metrics")).text();
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  assert.ok(line, `${name} in /metrics`);
  return Number(line.split(" ")[1]);
}

/** Milliseconds `GET /healthz` takes on `client`, checked to answer 200. */
async function healthzMs(client: H3Client): Promise<number> {
  const started = performance.now();
  const res = await withTimeout(client.fetch("/healthz"), 30_000, "GET /healthz");
  assert.equal(res.status, 200);
  await res.body?.cancel();
  return performance.now() - started;
}

/** `pairs` connections opened and closed in the tracker: two events each, no network. */
function churn(server: TestServer, pairs: number): void {
  for (let i = 0; i < pairs; i++) {
    const conn = server.tracker.open("h3", `127.0.0.1:${20_000 + i}`, "127.0.0.1:9443", null);
    server.tracker.close(conn, "churn");
  }
}

/** Reads messages until `count` events (comments and the preamble skipped) have arrived. */
async function events(next: () => Promise<SseMessage>, count: number): Promise<SseMessage[]> {
  const seen: SseMessage[] = [];
  while (seen.length < count) {
    const message = await next();
    if (message.event !== undefined) seen.push(message);
  }
  return seen;
}

Deno.test("hardening: --max-event-streams streams at most, then 503 + Retry-After; each event is encoded once for all", async () => {
  const server = await startTestServer();
  const max = DEFAULT_LIMITS.maxEventStreams;
  const watchers = await Promise.all(Array.from({ length: 4 }, () => server.client()));
  const control = await server.client();
  const streams: Response[] = [];
  const readers: ReturnType<typeof sseReader>[] = [];
  try {
    for (let i = 0; i < max; i++) streams.push(await watchers[i % 4].fetch("/api/events"));
    for (const res of streams) assert.equal(res.status, 200);
    const refused = await control.fetch("/api/events");
    assert.equal(refused.status, 503);
    assert.match(refused.headers.get("retry-after") ?? "", /^[1-9][0-9]*$/);
    assert.equal((await refused.json()).error, "too_many_event_streams");
    assert.equal(await metric(control, "sse_streams_refused_total"), 1);
    assert.equal(await metric(control, "sse_streams_open"), max);

    // The attack: new connections while every stream watches (each one two events).
    const encodedBefore = await metric(control, "sse_events_encoded_total");
    const firstId = server.tracker.lastEventId + 1;
    churn(server, 50);
    assert.ok((await healthzMs(control)) < HEALTHZ_BOUND_MS, "/healthz answers while it fans out");
    readers.push(...streams.splice(0).map((res) => sseReader(res.body!)));
    const received = await withTimeout(
      Promise.all(readers.map((next) => events(next, 100))),
      60_000,
      "100 events on every stream",
    );
    for (const seen of received) {
      assert.deepEqual(seen.map((m) => Number(m.id)), seen.map((_, i) => firstId + i), "in order");
    }
    assert.equal(
      await metric(control, "sse_events_encoded_total") - encodedBefore,
      100,
      `100 events encoded once each, not once per stream (${max} streams)`,
    );

    // A client that leaves gives its streams' slots back, though nothing more is written to
    // them: they end with its connection.
    watchers[3].close();
    const left = await withTimeout(
      (async () => {
        for (let i = 0; i < 1000; i++) {
          const open = await metric(control, "sse_streams_open");
          if (open < max) return open;
        }
        throw new Error("the slots never came free");
      })(),
      30_000,
      "freed stream slots",
    );
    assert.equal(left, max - max / 4, "the closed connection's streams, all of them");
    streams.push(await control.fetch("/api/events"));
    assert.equal(streams.at(-1)!.status, 200);
  } finally {
    for (const res of streams) await res.body?.cancel().catch(() => {});
    for (const next of readers) await next.cancel();
    for (const c of [...watchers, control]) c.close();
    await server.stop();
  }
});

Deno.test("hardening: an event stream that is never read is ended at --event-stream-buffer, not buffered", async () => {
  const server = await startTestServer([], {
    limits: { maxEventStreams: 1, eventStreamBufferBytes: 4096 },
  });
  const stalled = await server.client();
  const control = await server.client();
  try {
    const res = await stalled.fetch("/api/events"); // its body is not read until it is dropped
    assert.equal(res.status, 200);
    const busy = await control.fetch("/api/events");
    assert.equal(busy.status, 503, "the one stream slot is taken");
    await busy.body?.cancel();
    // Events until the server gives up on the stalled stream: first the transport's windows
    // fill, then 4 KiB of queue. Bounded: a server that buffers without end fails here.
    let emitted = 0;
    while ((await metric(control, "sse_streams_dropped_total")) === 0) {
      assert.ok(emitted < 40_000, `still not dropped after ${emitted} events`);
      churn(server, 250);
      emitted += 500;
      assert.ok((await healthzMs(control)) < HEALTHZ_BOUND_MS);
    }
    assert.equal(await metric(control, "sse_streams_open"), 0, "its slot is free");

    // The stalled client reads at last: what was in flight, a comment saying why, the end.
    const text = await readToEnd(res.body!, "the stalled stream");
    assert.match(
      text,
      /: ended: more than 4096 bytes of events went unread; reconnect with Last-Event-ID\n\n$/,
    );
    const lastId = [...text.matchAll(/^id: (\d+)$/gm)].at(-1)?.[1];
    assert.ok(lastId !== undefined, "some events arrived before the end");

    // It resumes: the events it missed, or a reset when the buffer no longer has them all.
    const resumed = await stalled.fetch("/api/events", { headers: { "last-event-id": lastId } });
    assert.equal(resumed.status, 200);
    const next = sseReader(resumed.body!);
    const first = (await events(next, 1))[0];
    await next.cancel();
    if (first.event !== "reset") assert.equal(Number(first.id), Number(lastId) + 1);
  } finally {
    stalled.close();
    control.close();
    await server.stop();
  }
});

Deno.test("hardening: a client that stops reading one stream frees its slot at the next event", async () => {
  const server = await startTestServer([], { limits: { maxEventStreams: 1 } });
  const client = await server.client();
  const readers: ReturnType<typeof sseReader>[] = [];
  try {
    const first = await client.fetch("/api/events");
    assert.equal(first.status, 200);
    await sseReader(first.body!).cancel(); // the connection stays open
    const again = await withTimeout(
      (async () => {
        for (let i = 0; i < 200; i++) {
          const res = await client.fetch("/api/events");
          if (res.status === 200) return res;
          await res.body?.cancel();
          churn(server, 1); // a write to the cancelled stream fails, which ends it
          await healthzMs(client);
        }
        throw new Error("the slot never came free");
      })(),
      30_000,
      "the freed slot",
    );
    readers.push(sseReader(again.body!));
  } finally {
    for (const next of readers) await next.cancel();
    client.close();
    await server.stop();
  }
});

Deno.test("hardening: with shared event bytes a restricted client still sees only its own events", async () => {
  const server = await startTestServer([], { publicDashboard: "off" });
  const [own, other] = await Promise.all([server.client(), server.client()]);
  const admin = { authorization: `Bearer ${server.adminToken}` };
  const streams: Response[] = [];
  const readers: ReturnType<typeof sseReader>[] = [];
  try {
    const ownId = (await (await own.fetch("/api/test")).json()).connection_id;
    streams.push(
      await own.fetch("/api/events"),
      await other.fetch("/api/events", { headers: admin }),
    );
    const [mine, everyone] = streams.splice(0).map((res) => sseReader(res.body!));
    readers.push(mine, everyone);
    churn(server, 20);
    const conn = server.tracker.get(ownId)!;
    server.tracker.request(conn, "127.0.0.1:1"); // a migration of its own connection
    const seen = await withTimeout(events(mine, 1), 10_000, "the restricted stream");
    assert.equal(seen[0].event, "migration", "the 40 other events were left out");
    assert.equal(JSON.parse(seen[0].data!).connection_id, ownId);
    const all = await withTimeout(events(everyone, 41), 10_000, "the admin stream");
    assert.equal(all.filter((m) => m.event === "connection_opened").length, 20);
    assert.equal(all.at(-1)?.event, "migration");
  } finally {
    for (const res of streams) await res.body?.cancel().catch(() => {});
    for (const next of readers) await next.cancel();
    own.close();
    other.close();
    await server.stop();
  }
});

/** A body of `total` bytes made as it is pulled, with no declared length; counts what was. */
function hugeBody(total: number): { body: ReadableStream<Uint8Array>; pulled: () => number } {
  const chunk = new TextEncoder().encode(`[${"1,".repeat(32 * 1024 - 1)}`.slice(0, 64 * 1024));
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= total) return controller.close();
      pulled += chunk.length;
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
  return { body, pulled: () => pulled };
}

function simulate(
  client: H3Client,
  body: BodyInit,
  headers: Record<string, string> = {},
): Promise<Response> {
  return client.fetch("/api/simulate-migration", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
}

Deno.test("hardening: a JSON body over --max-json-body is 413, declared or not, and is not read whole", async () => {
  const server = await startTestServer([], { limits: { mutatingRequestsPerSecond: 1000 } });
  const client = await server.client();
  const control = await server.client();
  const total = 40 * 1024 * 1024; // under --max-body: the JSON limit is what stops it
  try {
    const declared = "x".repeat(DEFAULT_LIMITS.maxJsonBodyBytes + 1);
    const refused = await simulate(client, declared, {
      "content-length": String(declared.length),
    });
    assert.equal(refused.status, 413);
    assert.equal((await refused.json()).error, "body_too_large");

    // The attack: ten huge bodies at once, with no length declared.
    const uploads = Array.from({ length: 10 }, () => hugeBody(total));
    const answers = uploads.map(({ body }) => simulate(client, body));
    const healthMs = await healthzMs(control);
    for (const res of await withTimeout(Promise.all(answers), 60_000, "ten 413 answers")) {
      assert.equal(res.status, 413);
      assert.equal((await res.json()).error, "body_too_large");
    }
    assert.ok(healthMs < HEALTHZ_BOUND_MS, `/healthz took ${healthMs} ms`);
    for (const { pulled } of uploads) {
      assert.ok(pulled() < total / 4, `the server stopped reading (${pulled()} bytes sent)`);
    }
    assert.equal((await healthzMs(control)) < HEALTHZ_BOUND_MS, true);
  } finally {
    client.close();
    control.close();
    await server.stop();
  }
});

Deno.test("hardening: permission comes before the body; an unknown id without the token is 403, not 404", async () => {
  const server = await startTestServer([], { limits: { mutatingRequestsPerSecond: 1000 } });
  const [client, other] = await Promise.all([server.client(), server.client()]);
  const admin = { authorization: `Bearer ${server.adminToken}` };
  try {
    // A wrong token is refused before a byte of the (huge) body is taken.
    const upload = hugeBody(40 * 1024 * 1024);
    const wrong = await simulate(client, upload.body, { authorization: "Bearer wrong" });
    assert.equal(wrong.status, 403);
    assert.equal((await wrong.json()).error, "forbidden");
    assert.ok(upload.pulled() < 10 * 1024 * 1024, `${upload.pulled()} bytes sent`);

    const unknown = JSON.stringify({ connection_id: "ffffffffffffffff" });
    const noToken = await simulate(client, unknown);
    assert.equal(noToken.status, 403, "no existence oracle without the token");
    await noToken.body?.cancel();
    const otherId = (await (await other.fetch("/api/test")).json()).connection_id;
    const existing = await simulate(client, JSON.stringify({ connection_id: otherId }));
    assert.equal(existing.status, 403, "the same answer for an id that exists");
    await existing.body?.cancel();
    const withToken = await simulate(client, unknown, admin);
    assert.equal(withToken.status, 404, "the token holder learns it does not exist");
    await withToken.body?.cancel();
  } finally {
    client.close();
    other.close();
    await server.stop();
  }
});
