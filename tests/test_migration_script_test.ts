/**
 * `scripts/test_migration.sh`, the check for people with a running server, run as they would
 * run it against a test server: every step ends with a ✅ line and the script exits 0.
 */

import { strict as assert } from "node:assert";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestServer } from "./support/server.ts";

const SCRIPT = fileURLToPath(new URL("../scripts/test_migration.sh", import.meta.url));
/** Bound on the whole script: it starts `deno task migrate` in its own process. */
const SCRIPT_TIMEOUT_MS = 120_000;

async function runScript(env: Record<string, string>) {
  const child = new Deno.Command("bash", {
    args: [SCRIPT],
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), SCRIPT_TIMEOUT_MS);
  try {
    const output = await child.output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("scripts/test_migration.sh: every step passes against a running server", async () => {
  const server = await startTestServer();
  const caFile = await Deno.makeTempFile({ prefix: "quic-ca-", suffix: ".pem" });
  try {
    await Deno.writeTextFile(caFile, server.caPem);
    const run = await runScript({
      URL: `https://localhost:${server.port}`,
      LAB_URL: `https://localhost:${server.labPort}`,
      CURL_OPTS: `--cacert ${caFile}`,
      MIGRATIONS: "3",
      QUIC_ADMIN_TOKEN: server.adminToken,
      // The same deno that runs this test runs `deno task migrate`.
      PATH: `${dirname(Deno.execPath())}:${Deno.env.get("PATH") ?? ""}`,
      NO_COLOR: "1",
    });
    const all = run.stdout + run.stderr;
    assert.equal(run.code, 0, all);
    assert.doesNotMatch(all, /❌/);
    for (
      const step of [
        /^✅ curl and jq are installed$/m,
        /^✅ GET \/healthz: ok$/m,
        /^✅ GET \/api\/test: protocol http\/1\.1, connection [0-9a-f]+, address 127\.0\.0\.1:\d+$/m,
        /^✅ X-Connection-ID header present \([0-9a-f]+\)$/m,
        new RegExp(
          `^✅ 3 migrations through https://localhost:${server.labPort}: all detected`,
          "m",
        ),
        /^✅ GET \/api\/connections\?migrated=true: 1 migrated connection\(s\)$/m,
      ]
    ) assert.match(run.stdout, step, all);
    // The migrate table and the listing's last event came through.
    assert.match(run.stdout, /result: OK: 1 connection\(s\).*migrations 3\/3 detected/);
    assert.match(run.stdout, /"migration_count": 3/);
    assert.match(
      run.stdout,
      /"last_event": "127\.0\.0\.\d+:\d+ → 127\.0\.0\.\d+:\d+ \(\w+, \w+\)"/,
    );
  } finally {
    await server.stop();
    await Deno.remove(caFile);
  }
});

Deno.test("scripts/test_migration.sh: a server that is not there is a ❌ and a non-zero exit", async () => {
  const run = await runScript({
    URL: "https://localhost:1",
    LAB_URL: "https://localhost:2",
    PATH: Deno.env.get("PATH") ?? "",
  });
  assert.notEqual(run.code, 0);
  assert.match(
    run.stderr,
    /^❌ GET https:\/\/localhost:1\/healthz failed \(is the server running\?\)$/m,
  );
  assert.doesNotMatch(run.stdout, /✅ GET \/healthz/);
});
