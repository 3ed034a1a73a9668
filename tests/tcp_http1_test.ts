/**
 * The HTTP/1.1 wire behaviour of the TCP listener's own HTTP/1.1 server (`lib/server/h1_*.ts`),
 * against a real server with a raw TLS peer: pipelined requests answered in order, HTTP/1.0 and
 * `Connection: close` ending the connection after the answer, HEAD without a body, a chunked
 * upload (400 when its coding is malformed), `Expect: 100-continue` (and 417 for any other
 * expectation), HTTP/1.0 answers without chunked coding, and a large body echoed byte for byte
 * (the server hands the received buffers on without copying them, so a reuse would show here),
 * and the send timeout closing a connection whose client stopped reading its answer.
 */

import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { startTestServer } from "./support/server.ts";
import { RawHttps } from "./support/raw_https.ts";
import { withTimeout } from "../lib/timeout.ts";

const SLACK_MS = 5000;

/** Status codes of every answer in `text`, in order. */
function statuses(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}

Deno.test("tcp http/1.1: pipelined requests are answered in order on one connection", async () => {
  const server = await startTestServer();
  const conn = await RawHttps.connect(server.port, server.caPem);
  try {
    const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`;
    await conn.send(get("/healthz") + get("/api/test") + get("/nowhere") + get("/healthz"));
    const answer = await conn.read(SLACK_MS, (text) =>
      statuses(text).length === 4 &&
      text.endsWith('{"status":"ok"}'));
    assert.deepEqual(statuses(answer.text), [200, 200, 404, 200]);
    assert.match(answer.text, /"request_count":2/, "/api/test saw the second request");
    assert.ok(!answer.ended, "the connection stays open");
  } finally {
    conn.close();
    await server.stop();
  }
});

Deno.test("tcp http/1.1: after pipelined requests an idle connection is closed silently", async () => {
  const timeout = 500;
  const server = await startTestServer([], { limits: { headerTimeoutMs: timeout } });
  const conn = await RawHttps.connect(server.port, server.caPem);
  try {
    const get = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    await conn.send(get + get);
    const answers = await conn.read(SLACK_MS, (text) =>
      statuses(text).length === 2 &&
      text.endsWith('{"status":"ok"}'));
    assert.deepEqual(statuses(answers.text), [200, 200]);
    const rest = await conn.untilClosed(timeout + SLACK_MS);
    assert.ok(rest.ended, "closed at the head deadline");
    assert.equal(rest.text, "", "with no unsolicited 408");
  } finally {
    conn.close();
    await server.stop();
  }
});

Deno.test("tcp http/1.1: HTTP/1.0 and Connection: close end the connection after the answer", async () => {
  const server = await startTestServer();
  try {
    for (
      const request of [
        "GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
      ]
    ) {
      const conn = await RawHttps.connect(server.port, server.caPem);
      try {
        await conn.send(request);
        const answer = await conn.untilClosed(SLACK_MS);
        assert.equal(answer.status, 200, request);
        assert.equal(answer.body, '{"status":"ok"}');
        assert.match(answer.text, /\r\nconnection: close\r\n/);
        assert.ok(answer.ended, `closed after the answer: ${JSON.stringify(request)}`);
      } finally {
        conn.close();
      }
    }
  } finally {
    await server.stop();
  }
});

Deno.test("tcp http/1.1: a small body nobody reads is skipped and the connection carries on", async () => {
  const server = await startTestServer();
  const conn = await RawHttps.connect(server.port, server.caPem);
  try {
    await conn.send(
      "GET /healthz HTTP/1.1\r\nHost: localhost\r\ncontent-length: 10\r\n\r\n0123456789" +
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n",
    );
    const answer = await conn.read(SLACK_MS, (text) =>
      statuses(text).length === 2 &&
      text.endsWith('{"status":"ok"}'));
    assert.deepEqual(statuses(answer.text), [200, 200]);
    assert.ok(!answer.ended, "the connection stays open");
  } finally {
    conn.close();
    await server.stop();
  }
});

Deno.test("tcp http/1.1: HEAD answers the head only, with the length a GET would have", async () => {
  const server = await startTestServer();
  const conn = await RawHttps.connect(server.port, server.caPem);
  try {
    await conn.send("HEAD /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    await conn.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    const answer = await conn.read(SLACK_MS, (text) => text.endsWith('{"status":"ok"}'));
    assert.deepEqual(statuses(answer.text), [200, 200]);
    const [head] = answer.text.split("\r\n\r\n");
    assert.match(head, /\r\ncontent-length: 15(\r\n|$)/);
    assert.match(head, /\r\nalt-svc: h3=":\d+"; ma=86400\r\n/);
    assert.ok(answer.text.indexOf("HTTP/1.1 200", 1) === head.length + 4, "no body after HEAD");
  } finally {
    conn.close();
    await server.stop();
  }
});

Deno.test("tcp http/1.1: a chunked upload with 100-continue is echoed", async () => {
  const server = await startTestServer();
  const conn = await RawHttps.connect(server.port, server.caPem);
  try {
    await conn.send(
      "POST /api/echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n" +
        "Expect: 100-continue\r\n\r\n",
    );
    const interim = await conn.read(SLACK_MS, (text) => text.includes("\r\n\r\n"));
    assert.equal(interim.text, "HTTP/1.1 100 Continue\r\n\r\n");
    await conn.send("6\r\nhello,\r\n6\r\n world\r\n0\r\n\r\n");
    const answer = await conn.read(SLACK_MS, (text) => text.endsWith("0\r\n\r\n"));
    assert.equal(answer.status, 200);
    assert.equal(answer.body, "hello, world");
  } finally {
    conn.close();
    await server.stop();
  }
});

Deno.test("tcp http/1.1: an expectation other than 100-continue gets 417, unrouted", async () => {
  const server = await startTestServer();
  const conn = await RawHttps.connect(server.port, server.caPem);
  try {
    await conn.send(
      "POST /api/echo HTTP/1.1\r\nHost: localhost\r\nExpect: something\r\ncontent-length: 2\r\n\r\nhi",
    );
    const answer = await conn.untilClosed(SLACK_MS);
    assert.equal(answer.status, 417);
    assert.equal(answer.json?.error, "expectation_failed");
    assert.ok(answer.ended, "closed after the answer");
  } finally {
    conn.close();
    await server.stop();
  }
});

Deno.test("tcp http/1.1: a malformed chunked body gets 400; HTTP/1.0 gets no chunked coding", async () => {
  const server = await startTestServer();
  try {
    const bad = await RawHttps.connect(server.port, server.caPem);
    try {
      await bad.send(
        "POST /api/simulate-migration HTTP/1.1\r\nHost: localhost\r\ncontent-type: application/json\r\n" +
          "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
      );
      const answer = await bad.untilClosed(SLACK_MS);
      assert.equal(answer.status, 400, answer.text.slice(0, 120));
      assert.equal(answer.json?.error, "bad_request");
      assert.match(answer.json?.detail ?? "", /malformed chunked request body/);
    } finally {
      bad.close();
    }
    const old = await RawHttps.connect(server.port, server.caPem);
    try {
      await old.send(
        "POST /api/echo HTTP/1.0\r\nHost: localhost\r\ncontent-length: 5\r\n\r\nhello",
      );
      const answer = await old.untilClosed(SLACK_MS);
      assert.equal(answer.status, 200);
      assert.doesNotMatch(answer.text, /transfer-encoding/i);
      assert.ok(answer.text.endsWith("\r\n\r\nhello"), JSON.stringify(answer.text.slice(-40)));
      assert.ok(answer.ended, "the end of the connection ends the body");
    } finally {
      old.close();
    }
  } finally {
    await server.stop();
  }
});

Deno.test("tcp http/1.1: a large body is echoed byte for byte", async () => {
  const server = await startTestServer();
  const client = Deno.createHttpClient({ caCerts: [server.caPem] });
  try {
    const body = new Uint8Array(3 * 1024 * 1024 + 7);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7919 + (i >> 12)) & 0xff;
    const res = await fetch(`https://127.0.0.1:${server.port}/api/echo`, {
      method: "POST",
      body,
      client,
    });
    assert.equal(res.status, 200);
    const back = new Uint8Array(await res.arrayBuffer());
    assert.equal(back.length, body.length);
    const hash = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
    assert.equal(hash(back), hash(body));
  } finally {
    client.close();
    await server.stop();
  }
});

Deno.test("tcp http/1.1: an answer left unread past --send-timeout closes its connection", async () => {
  const timeout = 600;
  const server = await startTestServer([], { limits: { sendTimeoutMs: timeout } });
  const conn = await RawHttps.connect(server.port, server.caPem);
  const closed = new Promise<string>((resolve) => {
    const stop = server.tracker.subscribe((event) => {
      if (event.type === "connection_closed" && event.connection.protocol === "http/1.1") {
        stop();
        resolve(event.connection.close_reason ?? "");
      }
    });
  });
  try {
    const size = 256 * 1024 * 1024;
    await conn.send(`GET /api/download?bytes=${size} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    // Not reading: the server's writes back up, and after the send timeout it gives up.
    const started = performance.now();
    const reason = await withTimeout(closed, timeout + SLACK_MS * 2, "the server closing");
    assert.ok(performance.now() - started >= timeout - 50, "not before the send timeout");
    assert.match(reason, /TCP connection closed/);
    const rest = await conn.untilClosed(SLACK_MS * 2);
    assert.ok(rest.ended, "the client sees the end");
    assert.ok(rest.text.length < size, `cut: ${rest.text.length} of ${size} bytes`);
  } finally {
    conn.close();
    await server.stop();
  }
});
