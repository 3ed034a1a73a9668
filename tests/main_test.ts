/**
 * The server as users run it: `main.ts` in its own process. It starts, prints the banner with
 * the SPKI hash and the Chromium command, serves, and exits 0 on SIGTERM after draining.
 */

import { strict as assert } from "node:assert";
import { freePort } from "./support/server.ts";

Deno.test("main.ts: starts, serves HTTPS with Alt-Svc, and exits 0 on SIGTERM", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "quic-main-" });
  const port = freePort();
  const labPort = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "main.ts",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--lab-port",
      String(labPort),
      "--data-dir",
      dataDir,
    ],
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let banner = "";
  try {
    while (!banner.includes("Admin token")) {
      const { value, done } = await lines.read();
      if (done) break;
      banner += value;
    }
    assert.match(banner, new RegExp(`https://localhost:${port}`));
    assert.match(banner, new RegExp(`Migration lab: https://localhost:${labPort}/`));
    assert.match(banner, /SPKI SHA-256: [A-Za-z0-9+/]{43}=/);
    assert.match(
      banner,
      /--origin-to-force-quic-on=localhost:\d+ --ignore-certificate-errors-spki-list=/,
    );
    const stat = await Deno.stat(`${dataDir}/admin-token`);
    assert.equal(stat.mode! & 0o777, 0o600);

    const caPem = await Deno.readTextFile(`${dataDir}/certs/ca.pem`);
    const client = Deno.createHttpClient({ caCerts: [caPem] });
    const res = await fetch(`https://localhost:${port}/healthz`, { client });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("alt-svc"), `h3=":${port}"; ma=86400`);
    assert.deepEqual(await res.json(), { status: "ok" });
    client.close();

    child.kill("SIGTERM");
    let rest = "";
    for (;;) {
      const { value, done } = await lines.read();
      if (done) break;
      rest += value;
    }
    assert.match(rest, /Shutting down/);
    const status = await child.status;
    assert.equal(status.code, 0);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.stderr.cancel();
    await child.status;
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("main.ts: a bad option prints one line and exits 2", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", "--port", "99999"],
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  const err = new TextDecoder().decode(out.stderr).trim();
  assert.equal(err.split("\n").length, 1, err);
  assert.match(err, /^error: --port/);
});
