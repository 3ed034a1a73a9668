/**
 * Headless Chromium driven by Playwright against the server over HTTP/3: on the migration lab's
 * port it asks for its own connection to be moved (a NAT rebinding through the lab's relay) and
 * must carry on on the same connection; on the main port it loads the page without console
 * errors, and a screenshot of that page goes to `test-artifacts/page.png`.
 *
 * Uses Debian's `/usr/bin/chromium`; no browser is downloaded.
 */

import { strict as assert } from "node:assert";
import { fileURLToPath } from "node:url";
import {
  type Browser,
  collectPageErrors,
  launchChromium,
  STEP_TIMEOUT_MS,
  within,
} from "./support/chromium.ts";
import { startTestServer } from "./support/server.ts";

// Runs in the page; this file is type-checked without the DOM library.
declare const document: { getElementById(id: string): { textContent: string | null } | null };

const ARTIFACTS = new URL("../test-artifacts/", import.meta.url);

/** What `GET /api/test` answers. */
interface ApiTest {
  protocol: string;
  connection_id: string;
  remote_addr: string;
  request_count: number;
  migration_count: number;
}

Deno.test("Chromium on the lab port: POST self, the next fetch is on the same connection with one more migration", async () => {
  const server = await startTestServer();
  let browser: Browser | undefined;
  try {
    const labPort = server.labPort;
    assert.ok(labPort, "the test server has a lab port");
    browser = await launchChromium(server, labPort);
    const { page } = browser;
    const nav = await page.goto(`https://localhost:${labPort}/`);
    assert.equal(nav?.status(), 200);

    // Runs in the page. The 20 ms pause paces the page's requests; what ends the loop is the
    // content of a response (the migration count), never the passing of time.
    const run = page.evaluate(async () => {
      const failures: string[] = [];
      const getTest = async (): Promise<ApiTest | undefined> => {
        try {
          const res = await fetch("/api/test", { cache: "no-store" });
          if (res.status !== 200) {
            failures.push(`GET /api/test: ${res.status}`);
            await res.body?.cancel();
            return undefined;
          }
          return await res.json();
        } catch (error) {
          failures.push(`GET /api/test: ${error}`);
          return undefined;
        }
      };
      const a = await getTest();
      if (a === undefined) return { failures };
      let simulateStatus = 0;
      try {
        const res = await fetch("/api/simulate-migration", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ connection_id: "self" }),
        });
        simulateStatus = res.status;
        await res.text();
      } catch (error) {
        failures.push(`POST /api/simulate-migration: ${error}`);
      }
      let b: ApiTest | undefined;
      let tries = 0;
      while (tries < 200) {
        tries++;
        b = await getTest();
        if (b !== undefined && b.migration_count === a.migration_count + 1) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return { a, b, simulateStatus, tries, failures };
    });
    const result = await within(run, STEP_TIMEOUT_MS, "the in-page migration run");

    assert.deepEqual(result.failures, [], "no request from the page failed");
    const { a, b } = result;
    assert.ok(a && b, JSON.stringify(result));
    assert.equal(result.simulateStatus, 202);
    assert.equal(a.protocol, "h3");
    assert.equal(b.protocol, "h3");
    assert.equal(b.connection_id, a.connection_id, "the same QUIC connection after the move");
    assert.equal(b.migration_count, a.migration_count + 1, `after ${result.tries} tries`);
    assert.notEqual(b.remote_addr, a.remote_addr, "the server sees the connection's new path");

    const conn = server.tracker.get(a.connection_id);
    assert.ok(conn, "the tracker knows the connection");
    assert.ok(conn.migrationCount >= 1);
    const last = conn.events.at(-1);
    assert.ok(
      last?.outcome === "validated" || last?.outcome === "pending",
      `last migration event: ${JSON.stringify(last)}`,
    );
  } finally {
    await browser?.close();
    await server.stop();
  }
});

Deno.test("Chromium over HTTP/3 on the main port loads the page without console errors", async () => {
  const server = await startTestServer();
  let browser: Browser | undefined;
  try {
    browser = await launchChromium(server, server.port);
    const { page } = browser;
    const errors = collectPageErrors(page);

    const nav = await page.goto(`https://localhost:${server.port}/`);
    assert.equal(nav?.status(), 200);
    // The page fills #self-protocol from its own fetch of /api/test: wait for that, not for
    // time. (A function, serialized into the page: the page's CSP forbids evaluating strings.)
    await page.waitForFunction(() =>
      !["…", ""].includes(document.getElementById("self-protocol")?.textContent ?? "")
    );
    assert.equal(await page.textContent("#self-protocol"), "h3");
    const id = await page.textContent("#self-id");
    assert.equal(server.tracker.get(id ?? "")?.protocol, "h3");

    await Deno.mkdir(ARTIFACTS, { recursive: true });
    const png = fileURLToPath(new URL("page.png", ARTIFACTS));
    await page.screenshot({ path: png, fullPage: true });
    assert.ok((await Deno.stat(png)).size > 0, "the screenshot was written");

    assert.deepEqual(errors, [], "no console errors");
  } finally {
    await browser?.close();
    await server.stop();
  }
});
