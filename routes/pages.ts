/**
 * `GET /` (the dashboard) and `GET /static/<file>` (its scripts, styles and icon). Files come
 * from `static/`, found through `import.meta.url` so the compiled binary (built with
 * `--include static`) serves them with nothing beside it. They are read once, at start.
 *
 * The Content-Security-Policy keeps the page to what this server serves: no CDN, no inline
 * script.
 * @module
 */

import { Hono } from "hono";
import type { AppEnv } from "../lib/connection_env.ts";
import { excerpt } from "../lib/bounded_int.ts";
import { jsonError } from "../lib/http_error.ts";

const STATIC_DIR = new URL("../static/", import.meta.url);

const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
};

/** Everything the page may load comes from this origin. */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/** One static file, ready to send. */
interface StaticFile {
  body: Uint8Array<ArrayBuffer>;
  contentType: string;
}

/** Reads every file under `dir` (recursively), keyed by its path relative to `dir`. */
async function readTree(dir: URL, prefix = ""): Promise<Map<string, StaticFile>> {
  const files = new Map<string, StaticFile>();
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory) {
      const sub = await readTree(new URL(`${entry.name}/`, dir), `${prefix}${entry.name}/`);
      for (const [name, file] of sub) files.set(name, file);
      continue;
    }
    const extension = entry.name.slice(entry.name.lastIndexOf(".") + 1);
    const contentType = CONTENT_TYPES[extension];
    if (!entry.isFile || contentType === undefined) continue;
    files.set(`${prefix}${entry.name}`, {
      body: await Deno.readFile(new URL(entry.name, dir)),
      contentType,
    });
  }
  return files;
}

/** Reads the static files once and returns the page routes. */
export async function pages(): Promise<Hono<AppEnv>> {
  const files = await readTree(STATIC_DIR);
  const index = files.get("index.html");
  if (index === undefined) throw new Error("static/index.html is missing");
  return new Hono<AppEnv>()
    .get("/", (c) =>
      c.body(index.body, 200, {
        "content-type": index.contentType,
        "cache-control": "no-cache",
        "content-security-policy": CONTENT_SECURITY_POLICY,
      }))
    .get("/static/*", (c) => {
      const file = files.get(c.req.path.slice("/static/".length));
      if (file === undefined) {
        return jsonError(404, "not_found", `no static file ${excerpt(c.req.path)}`);
      }
      return c.body(file.body, 200, {
        "content-type": file.contentType,
        "cache-control": "no-cache",
        "x-content-type-options": "nosniff",
      });
    });
}
