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
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { startTestServer, type TestServer } from "./_server.ts";

const CHROMIUM = "/usr/bin/chromium";
/** Upper bound for every single step (launch, navigation, one in-page script). */
const STEP_TIMEOUT_MS = 30_000;
const ARTIFACTS = new URL("../test-artifacts/", import.meta.url);

/** What `GET /api/test` answers. */
interface ApiTest {
  protocol: string;
  connection_id: string;
  remote_addr: string;
  request_count: number;
  migration_count: number;
}

/** A Chromium instance with its own throw-away profile. */
interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** Rejects if `promise` does not settle within `ms`; the timer never outlives the race. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Launches Chromium forced onto QUIC for `localhost:<port>`, trusting the server's key. */
async function launch(server: TestServer, port: number): Promise<Browser> {
  const profile = await Deno.makeTempDir({ prefix: "chromium-pw-" });
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: STEP_TIMEOUT_MS,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        `--origin-to-force-quic-on=localhost:${port}`,
        `--ignore-certificate-errors-spki-list=${server.certificates.spkiSha256Base64}`,
        "--host-resolver-rules=MAP localhost 127.0.0.1",
      ],
    });
    context.setDefaultTimeout(STEP_TIMEOUT_MS);
    context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
    const page = context.pages()[0] ?? await context.newPage();
    const opened = context;
    return {
      context: opened,
      page,
      async close() {
        try {
          await within(opened.close(), STEP_TIMEOUT_MS, "closing Chromium");
        } finally {
          await Deno.remove(profile, { recursive: true });
        }
      },
    };
  } catch (error) {
    await context?.close().catch(() => {});
    await Deno.remove(profile, { recursive: true });
    throw error;
  }
}

Deno.test("Chromium on the lab port: POST self, the next fetch is on the same connection with one more migration", async () => {
  const server = await startTestServer();
  let browser: Browser | undefined;
  try {
    const labPort = server.labPort;
    assert.ok(labPort, "the test server has a lab port");
    browser = await launch(server, labPort);
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
    browser = await launch(server, server.port);
    const { page } = browser;
    const errors: string[] = [];
    page.on("console", (msg) => {
      if (msg.type() !== "error") return;
      const url = msg.location().url;
      errors.push(`console: ${msg.text()} (${url})`);
    });
    page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));

    const nav = await page.goto(`https://localhost:${server.port}/`);
    assert.equal(nav?.status(), 200);
    // The page fills #protocol from its own fetch of /api/test: wait for that, not for time.
    // (A string, evaluated in the page: this file is type-checked without the DOM library.)
    await page.waitForFunction(
      `!["…", ""].includes(document.getElementById("protocol")?.textContent ?? "")`,
    );
    assert.equal(await page.textContent("#protocol"), "h3");
    const id = await page.textContent("#connection_id");
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
