/**
 * A loop in a browser page that fetches `/api/test` every few hundred milliseconds and keeps what
 * each answer said (the connection id, the address the server saw, the protocol), so a test can
 * move the browser's network under it and check that every fetch succeeded on one connection.
 *
 * ```ts
 * await startFetchLoop(page, 200);
 * await waitForFetches(page, 5);
 * const results = await stopFetchLoop(page);
 * ```
 * @module
 */

import type { Page } from "playwright-core";

/** One fetch's outcome, as the page saw it. */
export interface FetchResult {
  ok: boolean;
  connectionId?: string;
  remoteAddr?: string;
  protocol?: string;
  error?: string;
}

// Functions given to evaluate/waitForFunction run in the page; this file is checked without
// the DOM library.
declare const window: {
  fetchLoopResults: FetchResult[];
  fetchLoopTimer: number;
  setInterval(fn: () => void, ms: number): number;
  clearInterval(id: number): void;
};

/** Starts the loop: one `GET /api/test` every `intervalMs`, without cache. */
export async function startFetchLoop(page: Page, intervalMs: number): Promise<void> {
  await page.evaluate((ms) => {
    window.fetchLoopResults = [];
    window.fetchLoopTimer = window.setInterval(async () => {
      try {
        const res = await fetch("/api/test", { cache: "no-store" });
        const body = await res.json();
        window.fetchLoopResults.push({
          ok: res.ok,
          connectionId: body.connection_id,
          remoteAddr: body.remote_addr,
          protocol: body.protocol,
        });
      } catch (error) {
        window.fetchLoopResults.push({ ok: false, error: String(error) });
      }
    }, Number(ms));
  }, String(intervalMs));
}

/** Waits until at least `count` fetches have finished, counted from the loop's start. */
export async function waitForFetches(page: Page, count: number): Promise<void> {
  await page.waitForFunction((n) => window.fetchLoopResults.length >= Number(n), String(count));
}

/** What the fetches so far said. */
export function fetchResults(page: Page): Promise<FetchResult[]> {
  return page.evaluate(() => window.fetchLoopResults);
}

/** Stops the loop and returns every result. */
export function stopFetchLoop(page: Page): Promise<FetchResult[]> {
  return page.evaluate(() => {
    window.clearInterval(window.fetchLoopTimer);
    return window.fetchLoopResults;
  });
}
