/**
 * The live dashboard (`GET /`), end to end in headless Chromium forced onto HTTP/3:
 *
 * - the page and all its API calls (including the event stream) go over HTTP/3;
 * - a migration the test causes (an HTTP/3 client through the lab, rebound by the lab) shows up
 *   in the list and in the drawn timeline without a reload;
 * - on the lab port, "Migrate my connection" moves the page's own connection: same id, one more
 *   migration, and the once-a-second request counter carries on without a failed request;
 * - 1,200 connections are paged 50 at a time and filtered;
 * - no console errors anywhere; screenshots go to `test-artifacts/`.
 *
 * Every wait is on page content (never a fixed sleep) and bounded by the browser context's
 * default timeout (`STEP_TIMEOUT_MS` in `support/chromium.ts`).
 */

import { strict as assert } from "node:assert";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { type Browser, collectPageErrors, launchChromium } from "./support/chromium.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

const ARTIFACTS = new URL("../test-artifacts/", import.meta.url);

/** Writes a screenshot of `page` (or of one element) to `test-artifacts/<name>`. */
async function screenshot(page: Page, name: string, selector?: string): Promise<void> {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  const path = fileURLToPath(new URL(name, ARTIFACTS));
  if (selector) await page.locator(selector).screenshot({ path });
  else await page.screenshot({ path, fullPage: true });
  assert.ok((await Deno.stat(path)).size > 0, `${name} was written`);
}

// Functions passed to waitForFunction run in the page (serialized, so not subject to the page's
// CSP, which forbids evaluating strings); this file is type-checked without the DOM library.
declare const document: { querySelector(selector: string): { textContent: string | null } | null };

/** Waits (bounded by the default timeout) until `selector`'s text matches `pattern`. */
async function waitForText(page: Page, selector: string, pattern: RegExp): Promise<void> {
  await page.waitForFunction(
    ([sel, source, flags]) =>
      new RegExp(source, flags).test(document.querySelector(sel)?.textContent ?? ""),
    [selector, pattern.source, pattern.flags],
  );
}

/** Waits until the number shown in `selector` (e.g. "1,234") is at least `min`. */
async function waitForNumber(page: Page, selector: string, min: number): Promise<void> {
  await page.waitForFunction(
    ([sel, least]) =>
      Number(document.querySelector(sel)?.textContent?.replaceAll(",", "")) >= Number(least),
    [selector, String(min)],
  );
}

/** The number shown in an element, e.g. "1,234" → 1234. */
async function numberIn(page: Page, selector: string): Promise<number> {
  return Number((await page.textContent(selector))?.replaceAll(",", ""));
}

/** Opens the dashboard on `port`, collecting errors and the protocol of every response. */
async function openDashboard(server: TestServer, port: number) {
  const browser = await launchChromium(server, port);
  const { page } = browser;
  const errors = collectPageErrors(page);
  const protocols = new Map<string, string>();
  page.on("response", (res) => {
    const url = new URL(res.url());
    if (url.port !== String(port)) return;
    protocols.set(url.pathname, res.headers()["x-protocol"] ?? "(none)");
  });
  let navigations = 0;
  page.on("framenavigated", (frame) => {
    if (frame === page.mainFrame()) navigations++;
  });
  const nav = await page.goto(`https://localhost:${port}/`);
  assert.equal(nav?.status(), 200);
  // The card fills from the page's own /api/test; the indicator turns "live" once the event
  // stream is open. (Strings run in the page: this file is type-checked without the DOM.)
  await waitForText(page, "#self-id", /^[0-9a-f]{16}$/);
  await page.waitForSelector(`#live[data-state="live"]`);
  const ownId = (await page.textContent("#self-id")) ?? "";
  return { browser, page, errors, protocols, ownId, navigations: () => navigations };
}

Deno.test("dashboard over HTTP/3: a lab migration appears in the list and the timeline without a reload", async () => {
  const server = await startTestServer();
  let browser: Browser | undefined;
  let labClient: Awaited<ReturnType<TestServer["labClient"]>> | undefined;
  try {
    const opened = await openDashboard(server, server.port);
    browser = opened.browser;
    const { page, errors, protocols, ownId } = opened;

    // 1. The page's connection is HTTP/3 as the server's tracker sees it.
    assert.equal(await page.textContent("#self-protocol"), "h3");
    assert.equal(server.tracker.get(ownId)?.protocol, "h3");
    await page.waitForSelector(`#rows tr[data-id="${ownId}"]`);
    assert.equal(await page.isHidden("#self-lab"), true, "no migrate button off the lab path");

    // 2. A separate HTTP/3 client through the lab, moved by the lab, shows up live.
    labClient = await server.labClient({ keepAliveInterval: 50 });
    const res = await labClient.fetch("/api/test");
    const { connection_id: labId } = await res.json();
    await page.waitForSelector(`#rows tr[data-id="${labId}"]`);
    assert.equal(await page.getAttribute(`#rows tr[data-id="${labId}"]`, "data-migrations"), "0");
    const conn = server.tracker.get(labId);
    assert.ok(conn, "the tracker knows the lab client's connection");
    const record = await server.lab!.migrate(conn, { kind: "port", count: 1, intervalMs: 0 });
    assert.equal(record.migrations.at(-1)?.detected, true, JSON.stringify(record));

    const row = `#rows tr[data-id="${labId}"]`;
    await page.waitForSelector(`${row}.migrated[data-migrations="1"]`);
    assert.match((await page.textContent(`${row} [data-col="migrations"]`)) ?? "", /⇄ 1/);
    await page.click(`${row} button`);
    await page.waitForSelector(`#timeline[data-selected="${labId}"]`);
    const marker = `#timeline-chart g.migration[data-index="0"]`;
    await page.waitForSelector(`${marker}[data-outcome="validated"]`);
    assert.equal(await page.getAttribute(marker, "data-kind"), "port_change");
    assert.match((await page.textContent(`${marker} .marker-label`)) ?? "", /^port · .+ms/);
    assert.equal(await page.locator("#timeline-chart g.migration").count(), 1);
    assert.equal(
      await page.locator("#timeline-chart .lane-label").count(),
      3,
      "2 lanes + requests",
    );
    assert.ok(await page.locator("#timeline-chart .tick").count() >= 1, "request ticks");
    // The table under the chart is drawn from the same update, but may land a frame later.
    await page.waitForFunction(() =>
      /port change.*validated/s.test(document.querySelector("#timeline-rows")?.textContent ?? "")
    );
    assert.equal(opened.navigations(), 1, "no reload");

    await screenshot(page, "dashboard.png");
    await screenshot(page, "timeline.png", "#timeline");
    await page.emulateMedia({ colorScheme: "dark" });
    await screenshot(page, "dashboard-dark.png");

    // Every response the page got, the event stream included, came over HTTP/3, and the
    // browser never opened a TCP connection (the tracker would list it as h2 or http/1.1).
    for (const path of ["/", "/static/js/main.js", "/api/test", "/api/events", "/api/info"]) {
      assert.equal(protocols.get(path), "h3", `${path}: ${JSON.stringify([...protocols])}`);
    }
    assert.deepEqual(new Set(protocols.values()), new Set(["h3"]));
    const all = server.tracker.list({ state: "all", limit: 1000 }).connections;
    assert.deepEqual(new Set(all.map((c) => c.protocol)), new Set(["h3"]));
    assert.deepEqual(errors, [], "no console errors");
  } finally {
    labClient?.close();
    await browser?.close();
    await server.stop();
  }
});

Deno.test("dashboard on the lab port: Migrate my connection moves it with no failed request", async () => {
  const server = await startTestServer();
  let browser: Browser | undefined;
  try {
    const labPort = server.labPort;
    assert.ok(labPort, "the test server has a lab port");
    const opened = await openDashboard(server, labPort);
    browser = opened.browser;
    const { page, errors, ownId } = opened;
    await page.waitForSelector("#self-lab button[data-kind='port']", { state: "visible" });
    await waitForNumber(page, "#self-ok", 2);
    const migrationsBefore = await numberIn(page, "#self-migrations");
    const addrBefore = await page.textContent("#self-addr");

    await page.click("#self-lab button[data-kind='port']");
    await waitForNumber(page, "#self-migrations", migrationsBefore + 1);
    const okAtMove = await numberIn(page, "#self-ok");
    // The counter keeps ticking on the new path.
    await waitForNumber(page, "#self-ok", okAtMove + 2);
    await page.waitForFunction(
      `document.getElementById("self-status").textContent.startsWith("Moved:")`,
    );
    assert.equal(await page.textContent("#self-id"), ownId, "the same connection");
    assert.notEqual(await page.textContent("#self-addr"), addrBefore, "a new path");
    assert.equal(await page.textContent("#self-failed"), "0", "no failed request");
    assert.equal(await page.textContent("#self-protocol"), "h3");
    const conn = server.tracker.get(ownId);
    assert.equal(conn?.protocol, "h3");
    assert.equal(conn?.migrationCount, migrationsBefore + 1);

    // The page shows its own connection's timeline, with the move on it.
    await page.waitForSelector(`#timeline[data-selected="${ownId}"]`);
    await page.waitForFunction(
      `document.querySelectorAll("#timeline-chart g.migration").length === ${migrationsBefore + 1}`,
    );
    assert.match((await page.textContent("#timeline-rows")) ?? "", /port change/);
    await screenshot(page, "lab-self-migration.png");
    assert.deepEqual(errors, [], "no console errors");
  } finally {
    await browser?.close();
    await server.stop();
  }
});

Deno.test("dashboard with 1,200 connections: pages of 50, most recent first, filters", async () => {
  const server = await startTestServer();
  let browser: Browser | undefined;
  try {
    // Connections the tracker holds without sockets behind them, as a busy server would.
    for (let i = 0; i < 1200; i++) {
      const conn = server.tracker.open("h2", `127.0.0.1:${20000 + i}`, "127.0.0.1:9443", null);
      server.tracker.request(conn, `127.0.0.1:${20000 + i}`);
    }
    const opened = await openDashboard(server, server.port);
    browser = opened.browser;
    const { page, errors, ownId } = opened;
    await waitForText(page, "#page-range", /^1–50 of 1,20[1-9]$/);
    assert.equal(await page.locator("#rows tr").count(), 50);
    // The page's own connection is the one most recently active.
    assert.equal(await page.getAttribute("#rows tr:first-child", "data-id"), ownId);
    // Keyboard: a row's button keeps focus across the once-a-second redraw, and Enter on it
    // shows that connection's timeline.
    const second = await page.getAttribute("#rows tr:nth-child(2)", "data-id");
    const button = `#rows tr[data-id="${second}"] button`;
    await page.focus(button);
    const before = await page.$(button);
    await before!.waitForElementState("hidden"); // detached by the next redraw
    assert.match((await page.getAttribute(":focus", "aria-label")) ?? "", new RegExp(second!));
    await page.keyboard.press("Enter");
    await page.waitForSelector(`#timeline[data-selected="${second}"] #timeline-chart .lane-label`);
    assert.match((await page.getAttribute("#timeline-chart", "aria-label")) ?? "", /0 migrations/);
    assert.match(
      (await page.getAttribute("#timeline-chart", "aria-label")) ?? "",
      new RegExp(second!),
    );
    await page.click("#page-next");
    await page.waitForFunction(
      `document.getElementById("page-range").textContent.startsWith("51–100 ")`,
    );

    await page.selectOption("#filters select[name=protocol]", "h3");
    await waitForText(page, "#page-range", /^1–1 of 1$/);
    assert.equal(await page.getAttribute("#rows tr:first-child", "data-id"), ownId);
    await page.selectOption("#filters select[name=protocol]", "");
    await page.fill("#filters input[name=search]", "127.0.0.1:21199");
    await waitForText(page, "#page-range", /^1–1 of 1$/);
    assert.deepEqual(errors, [], "no console errors");
  } finally {
    await browser?.close();
    await server.stop();
  }
});

Deno.test("dashboard API: /api/info, request_activity only in a connection's detail, static files", async () => {
  const server = await startTestServer();
  const client = await server.client();
  try {
    const info = await (await client.fetch("/api/info")).json();
    assert.equal(info.port, server.port);
    assert.equal(info.lab_port, server.labPort);
    assert.equal(info.spki_sha256_base64, server.certificates.spkiSha256Base64);
    assert.equal(info.host, "127.0.0.1");
    assert.equal(info.dev_certificate, true);
    assert.equal(info.this_connection.protocol, "h3");
    assert.equal(info.this_connection.on_lab_path, false, "the main port is not the lab path");
    const id = info.this_connection.connection_id;

    const detail = await (await client.fetch(`/api/connections/${id}`)).json();
    assert.equal(detail.request_activity.bucket_ms, 1000);
    const counted = detail.request_activity.counts.reduce((a: number, b: number) => a + b, 0);
    assert.equal(counted, detail.request_count, "every request of this connection is counted");
    const list = await (await client.fetch("/api/connections")).json();
    assert.equal("request_activity" in list.connections[id], false, "lists stay small");

    const page = await client.fetch("/");
    assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'self'/);
    assert.match(await page.text(), /<script type="module" src="\/static\/js\/main.js">/);
    const script = await client.fetch("/static/js/main.js");
    assert.equal(script.headers.get("content-type"), "text/javascript; charset=utf-8");
    await script.body?.cancel();
    const missing = await client.fetch("/static/nope.js");
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    client.close();
    await server.stop();
  }
});

Deno.test("dashboard auto-refresh off: paused until Refresh now, then live again", async () => {
  const server = await startTestServer();
  let browser: Browser | undefined;
  let client: Awaited<ReturnType<TestServer["client"]>> | undefined;
  try {
    const opened = await openDashboard(server, server.port);
    browser = opened.browser;
    const { page, errors } = opened;
    await page.uncheck("#auto-refresh");
    await page.waitForSelector(`#live[data-state="paused"]`);
    client = await server.client();
    const { connection_id: id } = await (await client.fetch("/api/test")).json();
    await page.click("#refresh-now");
    await page.waitForSelector(`#rows tr[data-id="${id}"]`);
    await page.check("#auto-refresh");
    await page.waitForSelector(`#live[data-state="live"]`);
    assert.deepEqual(errors, [], "no console errors");
  } finally {
    client?.close();
    await browser?.close();
    await server.stop();
  }
});

/** What an EventSource hands its listeners (the part live.js reads). */
type SseMessage = { lastEventId: string; data: string };

/** A stand-in for the browser's EventSource that the test opens, feeds and breaks by hand. */
class FakeEventSource {
  static opened: FakeEventSource[] = [];
  readyState = 0;
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  readonly listeners = new Map<string, ((message: SseMessage) => void)[]>();
  constructor(readonly url: string) {
    FakeEventSource.opened.push(this);
  }
  addEventListener(type: string, listener: (message: SseMessage) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  close() {
    this.readyState = 2;
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  emit(type: string, id: number, data: unknown) {
    for (const f of this.listeners.get(type) ?? []) {
      f({ lastEventId: String(id), data: JSON.stringify(data) });
    }
  }
  /** An error after which the browser would not retry by itself (e.g. an error status). */
  fail() {
    this.readyState = 2;
    this.onerror?.();
  }
}

/** Resolves once `condition()` holds, checking every few ms; rejects after `ms`. */
async function until(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Deno.test("dashboard live updates (static/js/live.js): resume by last event id, polling while down, live again", async () => {
  const { LiveUpdates } = await import("../static/js/live.js");
  FakeEventSource.opened = [];
  const states: string[] = [];
  const events: unknown[] = [];
  let refreshes = 0;
  const live = new LiveUpdates({
    onEvent: (event: unknown) => events.push(event),
    onReset: () => {},
    refresh: () => {
      refreshes++;
      return Promise.resolve();
    },
    onState: (state: string) => states.push(state),
  }, { EventSource: FakeEventSource, liveRefreshMs: 60_000, pollRefreshMs: 10, backoffMs: 5 });
  try {
    live.start();
    const first = FakeEventSource.opened[0];
    assert.equal(first.url, "/api/events");
    first.open();
    assert.equal(states.at(-1), "live");
    first.emit("migration", 7, { type: "migration", connection_id: "a" });
    assert.deepEqual(events, [{ type: "migration", connection_id: "a" }]);

    const before = refreshes;
    first.fail();
    assert.equal(states.at(-1), "reconnecting");
    await until(() => FakeEventSource.opened.length === 2, "a reopened stream");
    assert.equal(FakeEventSource.opened[1].url, "/api/events?last_event_id=7", "resumes by id");
    await until(() => refreshes >= before + 2, "polling while the stream is down");
    FakeEventSource.opened[1].fail();
    await until(() => FakeEventSource.opened.length === 3, "a third stream");
    FakeEventSource.opened[2].fail();
    assert.equal(states.at(-1), "polling", "after 3 failures the page says it polls");

    await until(() => FakeEventSource.opened.length === 4, "a fourth stream");
    const refreshesBeforeOpen = refreshes;
    FakeEventSource.opened[3].open();
    assert.equal(states.at(-1), "live");
    await until(() => refreshes > refreshesBeforeOpen, "a catch-up refresh once live again");
    live.stop();
    assert.equal(states.at(-1), "paused");
    assert.equal(FakeEventSource.opened[3].readyState, 2, "stopping closes the stream");
  } finally {
    live.stop();
  }
});
