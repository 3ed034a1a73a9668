/**
 * `migrate`, the command-line migration checker, run in-process against a test server: it moves
 * lab connections for real while requests flow, and its exit code, table and progress say what
 * happened.
 */

import { strict as assert } from "node:assert";
import { runMigrate } from "../lib/migrate/cli.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

/** One run's exit code and everything it wrote. */
interface MigrateRun {
  code: number;
  stdout: string;
  stderr: string;
}

async function migrate(
  args: string[],
  options: { env?: Record<string, string>; stderrIsTerminal?: boolean } = {},
): Promise<MigrateRun> {
  let stdout = "";
  let stderr = "";
  const code = await runMigrate(args, {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    env: options.env ?? {},
    stderrIsTerminal: options.stderrIsTerminal ?? false,
  });
  return { code, stdout, stderr };
}

/** The connection ids in the table, in order. */
function connectionIds(stdout: string): string[] {
  return [...stdout.matchAll(/^connection \d+: ([0-9a-f]+) /gm)].map((m) => m[1]);
}

/** The table's migration rows (index, kind, old → new, detected, delay, outcome). */
function migrationRows(stdout: string): string[][] {
  return stdout.split("\n")
    .filter((line) => /^\s+\d+\s+(port|address)\s/.test(line))
    .map((line) => line.trim().split(/\s+/));
}

async function withServer(fn: (server: TestServer, caFile: string) => Promise<void>) {
  const server = await startTestServer();
  const caFile = await Deno.makeTempFile({ prefix: "quic-ca-", suffix: ".pem" });
  try {
    await Deno.writeTextFile(caFile, server.caPem);
    await fn(server, caFile);
  } finally {
    await server.stop();
    await Deno.remove(caFile);
  }
}

/** A data directory with nothing in it, so no `.data/admin-token` of the cwd is picked up. */
const EMPTY_DATA_DIR = ["--data-dir", "/nonexistent-quic-migrate-test"];

function assertAllDetected(server: TestServer, run: MigrateRun, connections: number, n: number) {
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const ids = connectionIds(run.stdout);
  assert.equal(ids.length, connections);
  assert.match(run.stdout, /requests [1-9]\d* ok, 0 failed/);
  assert.doesNotMatch(run.stdout, /[1-9]\d* failed/);
  const rows = migrationRows(run.stdout);
  assert.equal(rows.length, connections * n);
  // index, kind, old, →, new, detected, delay, outcome
  assert.ok(rows.every((row) => row[5] === "yes" && Number(row[6]) >= 0), run.stdout);
  assert.match(
    run.stdout,
    new RegExp(`result: OK: ${connections} connection\\(s\\).*migrations ${connections * n}/`),
  );
  for (const id of ids) {
    const conn = server.tracker.get(id);
    assert.ok(conn, `tracker knows ${id}`);
    assert.equal(conn.migrationCount, n);
    assert.ok(server.lab!.recordFor(conn)!.migrations.every((m) => m.detected));
  }
}

Deno.test("migrate: with the admin token, 5 mixed migrations, all detected, no failed request", () =>
  withServer(async (server, caFile) => {
    const run = await migrate(
      [
        "--url",
        `https://localhost:${server.labPort}`,
        "--migrations",
        "5",
        "--kind",
        "mixed",
        "--interval",
        "50",
        "--ca",
        caFile,
        ...EMPTY_DATA_DIR,
      ],
      { env: { QUIC_ADMIN_TOKEN: server.adminToken } },
    );
    assertAllDetected(server, run, 1, 5);
    assert.match(run.stdout, /moved on admin request/);
    assert.match(run.stderr, /token from QUIC_ADMIN_TOKEN/);
    const kinds = migrationRows(run.stdout).map((row) => row[1]);
    assert.deepEqual(kinds, ["port", "address", "port", "address", "port"]);
  }));

Deno.test("migrate: without a token each connection moves itself; progress redraws on a TTY", () =>
  withServer(async (server, caFile) => {
    const run = await migrate(
      [
        `--url=https://localhost:${server.labPort}`,
        "--migrations=5",
        "--kind=mixed",
        "--interval=50",
        `--ca=${caFile}`,
        ...EMPTY_DATA_DIR,
      ],
      { stderrIsTerminal: true },
    );
    assertAllDetected(server, run, 1, 5);
    assert.match(run.stdout, /moved on its own "self" request/);
    // Redrawn in place (carriage return, erase to end of line), finished with a newline.
    const lastLine = run.stderr.slice(run.stderr.lastIndexOf("\r"));
    assert.match(lastLine, /^\rmigrate: [\d.]+ s, requests \d+ ok, 0 failed, migrations 5\/5/);
    assert.ok(lastLine.endsWith("\x1b[K\n"), JSON.stringify(lastLine));
  }));

Deno.test("migrate: --concurrency 3, CA and admin token found in --data-dir", () =>
  withServer(async (server) => {
    const dataDir = await Deno.makeTempDir({ prefix: "quic-migrate-data-" });
    try {
      await Deno.mkdir(`${dataDir}/certs`);
      await Deno.writeTextFile(`${dataDir}/certs/ca.pem`, server.caPem);
      await Deno.writeTextFile(`${dataDir}/admin-token`, server.adminToken + "\n");
      const run = await migrate([
        "--url",
        `https://localhost:${server.labPort}/`,
        "--migrations",
        "3",
        "--kind",
        "address",
        "--interval",
        "20",
        "--concurrency",
        "3",
        "--data-dir",
        dataDir,
      ]);
      assertAllDetected(server, run, 3, 3);
      assert.equal(new Set(connectionIds(run.stdout)).size, 3);
      assert.match(run.stderr, new RegExp(`trusting ${dataDir}/certs/ca.pem`));
      assert.match(run.stderr, new RegExp(`token from ${dataDir}/admin-token`));
      assert.ok(migrationRows(run.stdout).every((row) => row[1] === "address"));
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  }));

Deno.test("migrate: the main port is not the lab: the 409 is reported and the exit code is 1", () =>
  withServer(async (server, caFile) => {
    const args = [
      "--url",
      `https://localhost:${server.port}`,
      "--migrations",
      "2",
      "--ca",
      caFile,
      ...EMPTY_DATA_DIR,
    ];
    const envs: Record<string, string>[] = [{}, { QUIC_ADMIN_TOKEN: server.adminToken }];
    for (const env of envs) {
      const run = await migrate(args, { env });
      assert.equal(run.code, 1);
      const refusal = new RegExp(
        `409 not_on_lab_path: .*lab port.*the lab is at https://localhost:${server.labPort}/`,
      );
      assert.match(run.stderr, refusal);
      assert.match(run.stdout, refusal);
      assert.match(run.stdout, /result: FAILED: .*migrations 0\/2 detected/);
    }
  }));

Deno.test("migrate: a bad option is one line on stderr and exit code 2", async () => {
  const cases: Array<[string[], RegExp]> = [
    [["--migrations", "0"], /--migrations: "0" is not a count from 1 to 1000/],
    [["--migrations", "1001"], /--migrations: "1001"/],
    [["--kind", "teleport"], /--kind: "teleport" is not a kind/],
    [["--interval", "-5"], /--interval: "-5" is not an interval in ms from 0 to 10000/],
    [["--url"], /--url needs a value/],
    [["--concurrency", "x"], /--concurrency: "x"/],
    [["--url", "http://localhost:9444"], /not an https:\/\/ URL/],
    [["--url", "not a url"], /--url: "not a url" is not a URL/],
    [["--frobnicate"], /unknown option "--frobnicate"/],
    [["extra"], /unexpected argument "extra"/],
    [["--ca", "/nonexistent/ca.pem"], /--ca: cannot read "\/nonexistent\/ca.pem"/],
  ];
  for (const [args, message] of cases) {
    const run = await migrate(args);
    assert.equal(run.code, 2, args.join(" "));
    assert.equal(run.stdout, "");
    assert.equal(run.stderr.split("\n").length, 2, `one line: ${JSON.stringify(run.stderr)}`);
    assert.match(run.stderr, /^error: .* \(see migrate --help\)\n$/);
    assert.match(run.stderr, message);
  }
  const help = await migrate(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: main\.ts migrate \[options\]/);
});
