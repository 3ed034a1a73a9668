/**
 * Test helper: Debian's headless Chromium (`/usr/bin/chromium`, no browser download) driven by
 * Playwright, forced onto QUIC for one `localhost` port and trusting exactly the test server's
 * key, with a throw-away profile, plus a collector of console errors.
 *
 * ```ts
 * const browser = await launchChromium(server, server.port);
 * await browser.page.goto(`https://localhost:${server.port}/`);
 * await browser.close();
 * ```
 * @module
 */

import { withTimeout as within } from "../../lib/timeout.ts";
export { within };
import { type BrowserContext, chromium, type Page } from "playwright-core";
import type { TestServer } from "./server.ts";

const CHROMIUM = "/usr/bin/chromium";
/** Upper bound for every single step (launch, navigation, one in-page script or wait). */
export const STEP_TIMEOUT_MS = 30_000;

/** A Chromium instance with its own throw-away profile. */
export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** Where the browser runs and which address `localhost` means to it. */
export interface LaunchOptions {
  /** The browser to start (default Debian's Chromium), e.g. a wrapper entering a namespace. */
  executablePath?: string;
  /** The address `localhost` resolves to (default 127.0.0.1). */
  localhostIp?: string;
}

/** Launches Chromium forced onto QUIC for `localhost:<port>`, trusting the server's key. */
export async function launchChromium(
  server: TestServer,
  port: number,
  options: LaunchOptions = {},
): Promise<Browser> {
  const profile = await Deno.makeTempDir({ prefix: "chromium-pw-" });
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: options.executablePath ?? CHROMIUM,
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
        `--host-resolver-rules=MAP localhost ${options.localhostIp ?? "127.0.0.1"}`,
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

/** Collects the page's console errors and uncaught exceptions into the returned array. */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    errors.push(`console: ${msg.text()} (${msg.location().url})`);
  });
  page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
  return errors;
}
