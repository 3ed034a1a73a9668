/**
 * `GET /`: the web page. Files come from `static/`, found through `import.meta.url` so the
 * compiled binary (built with `--include static`) serves them with nothing beside it.
 * @module
 */

import { Hono } from "hono";
import type { AppEnv } from "../lib/server/connection_env.ts";

const STATIC_DIR = new URL("../static/", import.meta.url);

/** Reads the static files once and returns the page routes. */
export async function pages(): Promise<Hono<AppEnv>> {
  const index = await Deno.readTextFile(new URL("index.html", STATIC_DIR));
  return new Hono<AppEnv>().get("/", (c) => c.html(index));
}
