/**
 * What the server hands back, hardened, over real HTTP/3: `/api/echo` never serves the
 * request's own content type, every response carries `nosniff` and a Content-Security-Policy,
 * the history file is private, and error details never echo client input whole. The load
 * tests are in `api_hardening_test.ts`.
 */

import { strict as assert } from "node:assert";
import { startTestServer } from "./support/server.ts";
import { API_CONTENT_SECURITY_POLICY } from "../lib/http_error.ts";

Deno.test("hardening: /api/echo answers an HTML upload as bytes, never as HTML", async () => {
  const server = await startTestServer();
  const client = await server.client();
  try {
    const html = "<html><script>alert(document.cookie)</script></html>";
    const res = await client.fetch("/api/echo", {
      method: "POST",
      headers: { "content-type": "text/html; charset=utf-8" },
      body: html,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/octet-stream");
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(res.headers.get("content-security-policy"), API_CONTENT_SECURITY_POLICY);
    assert.equal(await res.text(), html, "the bytes themselves come back unchanged");
  } finally {
    client.close();
    await server.stop();
  }
});

Deno.test("hardening: every response carries nosniff and a CSP; the dashboard keeps its own", async () => {
  const server = await startTestServer([], { limits: { maxBodyBytes: 100 } });
  const client = await server.client();
  try {
    const responses: Array<[string, Response]> = [];
    for (const path of ["/api/test", "/healthz", "/api/connections", "/metrics", "/nope"]) {
      responses.push([path, await client.fetch(path)]);
    }
    responses.push(["/api/events", await client.fetch("/api/events")]);
    responses.push([
      "simulate (400)",
      await client.fetch("/api/simulate-migration", { method: "POST", body: "{" }),
    ]);
    // Refused by the HTTP/3 listener itself, before the app: its answer has them too.
    responses.push([
      "413 from the listener",
      await client.fetch("/api/echo", {
        method: "POST",
        headers: { "content-length": "1000" },
        body: "x".repeat(1000),
      }),
    ]);
    for (const [what, res] of responses) {
      await res.body?.cancel();
      assert.equal(res.headers.get("x-content-type-options"), "nosniff", what);
      assert.equal(res.headers.get("content-security-policy"), API_CONTENT_SECURITY_POLICY, what);
    }
    assert.equal(responses.at(-1)![1].status, 413);
    const page = await client.fetch("/");
    await page.body?.cancel();
    assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'self'/);
    assert.equal(page.headers.get("x-content-type-options"), "nosniff");
  } finally {
    client.close();
    await server.stop();
  }
});

/** The permission bits of `path`. */
async function modeOf(path: string): Promise<number> {
  return (await Deno.stat(path)).mode! & 0o777;
}

Deno.test({
  name: "hardening: history.kv and its -wal/-shm are 0600, in a data directory made 0700",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const parent = await Deno.makeTempDir({ prefix: "quic-modes-" });
    const dataDir = `${parent}/data`; // does not exist yet: the server makes it
    try {
      let server = await startTestServer([], { dataDir, history: {} });
      const client = await server.client();
      await (await client.fetch("/api/test")).body?.cancel();
      client.close();
      const files = () => ["", "-wal", "-shm"].map((suffix) => `${dataDir}/history.kv${suffix}`);
      const present = async () => {
        const out: string[] = [];
        for (const file of files()) if (await Deno.stat(file).catch(() => null)) out.push(file);
        return out;
      };
      assert.equal(await modeOf(dataDir), 0o700);
      assert.ok((await present()).includes(`${dataDir}/history.kv`));
      for (const file of await present()) assert.equal(await modeOf(file), 0o600, file);
      await server.stop();

      // Files an older version left readable are made private at the next start.
      for (const file of await present()) await Deno.chmod(file, 0o644);
      server = await startTestServer([], { dataDir, history: {} });
      try {
        for (const file of await present()) assert.equal(await modeOf(file), 0o600, file);
      } finally {
        await server.stop();
      }
    } finally {
      await Deno.remove(parent, { recursive: true });
    }
  },
});

Deno.test("hardening: no error detail echoes a 5,000-character input whole", async () => {
  const server = await startTestServer([], { limits: { mutatingRequestsPerSecond: 1000 } });
  const client = await server.client();
  const long = "9".repeat(5000);
  const admin = { authorization: `Bearer ${server.adminToken}` };
  const post = (body: string, headers: Record<string, string> = {}) => ({
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  try {
    const cases: Array<[string, string, RequestInit?]> = [
      ["limit", `/api/connections?limit=${long}`],
      ["cursor", `/api/connections?cursor=${long}`],
      ["state", `/api/connections?state=${long}`],
      ["protocol", `/api/connections?protocol=${long}`],
      ["migrated", `/api/connections?migrated=${long}`],
      ["connection id", `/api/connections/${long}`],
      ["unknown route", `/${long}`],
      ["static file", `/static/${long}`],
      [
        "simulate id",
        "/api/simulate-migration",
        post(JSON.stringify({ connection_id: long }), admin),
      ],
      [
        "origin",
        "/api/simulate-migration",
        post("{}", { origin: `https://${long}.example` }),
      ],
    ];
    for (const [what, path, init] of cases) {
      const res = await client.fetch(path, init);
      assert.ok(res.status >= 400, `${what}: ${res.status}`);
      const { detail } = await res.json();
      assert.equal(typeof detail, "string", what);
      assert.ok(detail.length <= 300 + 40, `${what}: ${detail.length} characters`);
      assert.ok(!detail.includes("9".repeat(200)), `${what}: the input is cut`);
    }
  } finally {
    client.close();
    await server.stop();
  }
});
