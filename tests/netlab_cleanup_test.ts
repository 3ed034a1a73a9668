/**
 * The network lab removes everything it created however it ends: SIGINT and SIGTERM stop the
 * client and tear the lab down (exit 130 / 143); after `kill -9`, which leaves everything
 * behind, the next run removes the leftovers (and the orphaned client) before it starts.
 *
 * netlab runs as a separate process here (`main.ts netlab`), as a user runs it. Runs as root
 * (CI does); without root it fails with one line, never skips.
 */

import { strict as assert } from "node:assert";
import { withTimeout } from "../lib/timeout.ts";
import { startTestServer, type TestServer } from "./support/server.ts";
import { assertCanBuildLabs, labLeftovers } from "./support/netlab.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
/** Upper bound for netlab to build a lab, or to finish a run with nothing to do. */
const STEP_MS = 60_000;

/** A client that waits, with a duration unique to this test so its process can be found. */
function uniqueSleep(): string {
  return `300.${crypto.getRandomValues(new Uint32Array(1))[0]}`;
}

/** Whether a process whose command line contains `marker` is running. */
async function processRunning(marker: string): Promise<boolean> {
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`).catch(() => "");
    if (cmdline.split("\0").includes(marker)) return true;
  }
  return false;
}

/** Resolves once `marker`'s process runs; rejects after {@link STEP_MS}. */
async function processStarted(marker: string): Promise<void> {
  const deadline = Date.now() + STEP_MS;
  while (!(await processRunning(marker))) {
    if (Date.now() > deadline) throw new Error(`no process ${marker} within ${STEP_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function netlab(server: TestServer, caFile: string, client: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "--allow-all", MAIN, "netlab"],
      ...["--server", `https://localhost:${server.port}`, "--ca", caFile, "--settle", "1s"],
      ...["--", ...client],
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/**
 * Reads `stream` until a line matches `pattern` (bounded), keeping everything read in `seen`;
 * the rest of the stream is drained in the background.
 */
async function waitForLine(
  stream: ReadableStream<Uint8Array>,
  pattern: RegExp,
  seen: string[],
): Promise<RegExpMatchArray> {
  const lines = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const found = (async () => {
    for (;;) {
      const { value, done } = await lines.read();
      if (done) throw new Error(`netlab ended before ${pattern}: ${seen.join("")}`);
      seen.push(value);
      buffer += value;
      const match = buffer.match(pattern);
      if (match) return match;
    }
  })();
  const match = await withTimeout(found, STEP_MS, `netlab printing ${pattern}`);
  (async () => {
    for (;;) {
      const { value, done } = await lines.read();
      if (done) return;
      seen.push(value);
    }
  })();
  return match;
}

async function withServer(fn: (server: TestServer, caFile: string) => Promise<void>) {
  assertCanBuildLabs();
  const server = await startTestServer();
  const caFile = await Deno.makeTempFile({ prefix: "netlab-ca-", suffix: ".pem" });
  try {
    await Deno.writeTextFile(caFile, server.caPem);
    await fn(server, caFile);
  } finally {
    await server.stop();
    await Deno.remove(caFile);
  }
}

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  Deno.test(`netlab: ${signal} stops the client, removes the lab and exits ${code}`, async () => {
    await withServer(async (server, caFile) => {
      const sleep = uniqueSleep();
      const child = netlab(server, caFile, ["sleep", sleep]);
      const stderr: string[] = [];
      const stdout = new Response(child.stdout).text();
      const [, slot] = await waitForLine(child.stderr, /slot (\d+):[^]*netlab: client:/, stderr);
      assert.ok((await labLeftovers(Number(slot))).length > 0, "the lab exists while it runs");
      await processStarted(sleep);
      child.kill(signal);
      const status = await withTimeout(child.status, STEP_MS, "netlab ending");
      await stdout;
      assert.equal(status.code, code, stderr.join(""));
      assert.match(stderr.join(""), new RegExp(`stopped by ${signal}`));
      assert.deepEqual(await labLeftovers(Number(slot)), [], "nothing of the lab remains");
      assert.equal(await processRunning(sleep), false, "the client was ended");
    });
  });
}

Deno.test("netlab: after kill -9 the next run removes the leftovers first", async () => {
  await withServer(async (server, caFile) => {
    const sleep = uniqueSleep();
    // A client with a child of its own: that child outlives the client, inside the namespace.
    const crashed = netlab(server, caFile, ["sh", "-c", `sleep ${sleep} & wait`]);
    const crashedLog: string[] = [];
    const crashedOut = new Response(crashed.stdout).text();
    const [, slotText] = await waitForLine(
      crashed.stderr,
      /slot (\d+):[^]*netlab: client:/,
      crashedLog,
    );
    const slot = Number(slotText);
    await processStarted(sleep);
    crashed.kill("SIGKILL");
    assert.equal((await withTimeout(crashed.status, STEP_MS, "netlab dying")).signal, "SIGKILL");
    const left = await labLeftovers(slot);
    assert.ok(left.some((name) => name.startsWith("netns ")), `leftovers: ${left}`);
    assert.ok(left.some((name) => name.startsWith("state file ")), `leftovers: ${left}`);
    assert.ok(await processRunning(sleep), "kill -9 left the client's child in the namespace");

    const next = netlab(server, caFile, ["true"]);
    const output = await withTimeout(next.output(), STEP_MS, "the next netlab run");
    const log = new TextDecoder().decode(output.stderr) + new TextDecoder().decode(output.stdout);
    assert.equal(output.code, 0, log);
    assert.match(
      log,
      new RegExp(`removed leftovers of crashed runs \\(slots [0-9, ]*\\b${slot}\\b`),
    );
    const nextSlot = Number(log.match(/slot (\d+):/)?.[1]);
    assert.deepEqual(await labLeftovers(slot), [], "the crashed run's lab is gone");
    assert.deepEqual(await labLeftovers(nextSlot), [], "the next run's lab is gone");
    assert.equal(await processRunning(sleep), false, "the orphaned process was ended");
    // It held the crashed run's stdout (inherited); ended, it lets the pipe close.
    await withTimeout(crashedOut, STEP_MS, "the crashed run's stdout closing");
  });
});
