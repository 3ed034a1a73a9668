/**
 * Connection history across restarts: a graceful restart keeps every connection (ids,
 * migration events, close reasons); a `kill -9` loses only what was not yet written, and a
 * connection open at the kill comes back closed with `lost_at_restart`; retention applies to
 * the stored history too.
 */

import { withTimeout as within } from "../lib/timeout.ts";
import { strict as assert } from "node:assert";
import { H3Client } from "../lib/h3/client.ts";
import { CONNECTION_PREFIX } from "../lib/store/history_store.ts";
import type { ConnectionInfo } from "../lib/tracker/types.ts";
import { freePort, startTestServer } from "./support/server.ts";

const HISTORY = { intervalMs: 50 };

/** Every record in a history file, read with its own handle (the server may hold the file). */
async function readHistory(dataDir: string): Promise<Map<string, ConnectionInfo>> {
  const kv = await Deno.openKv(`${dataDir}/history.kv`);
  try {
    const out = new Map<string, ConnectionInfo>();
    for await (const entry of kv.list<ConnectionInfo>({ prefix: [CONNECTION_PREFIX] })) {
      out.set(entry.key[1] as string, entry.value);
    }
    return out;
  } finally {
    kv.close();
  }
}

/**
 * Polls the history file until the record of `id` satisfies `ok`, for at most `ms`. Another
 * process writes the file, so there is no event to wait on; the loop is bounded.
 */
async function persisted(
  dataDir: string,
  id: string,
  ok: (info: ConnectionInfo) => boolean,
  ms = 5000,
): Promise<ConnectionInfo> {
  const deadline = Date.now() + ms;
  for (;;) {
    const info = (await readHistory(dataDir)).get(id);
    if (info !== undefined && ok(info)) return info;
    if (Date.now() > deadline) {
      throw new Error(`record ${id} not persisted as expected: ${JSON.stringify(info)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function idOf(client: H3Client): Promise<string> {
  return (await (await client.fetch("/api/test")).json()).connection_id;
}

Deno.test("persistence: a graceful restart keeps ids, migrations and close reasons", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "quic-persist-" });
  try {
    const first = await startTestServer([], { dataDir, history: HISTORY });
    const mover = await first.labClient({ keepAliveInterval: 50 });
    const moved = await idOf(mover);
    const lab = await first.lab!.migrate(first.tracker.get(moved)!, {
      kind: "mixed",
      count: 2,
      intervalMs: 50,
    });
    assert.equal(lab.migrations.filter((m) => m.detected).length, 2);
    await idOf(mover); // a request on the new path validates the last move
    const quitter = await first.client();
    const quit = await idOf(quitter);
    const closed = new Promise<void>((resolve) =>
      first.tracker.subscribe((e) => {
        if (e.type === "connection_closed" && e.connection.connection_id === quit) resolve();
      })
    );
    quitter.close();
    await within(closed, 5000, "the client's close reaching the tracker");
    await first.stop(); // GOAWAY, drain, then the final write: `mover` is closed by shutdown
    mover.close();
    const before = [...first.tracker.closedConnections()].map((c) => c.toJSON());
    assert.equal(first.tracker.summary().open, 0);
    assert.deepEqual(new Set(before.map((c) => c.connection_id)), new Set([moved, quit]));
    const movedBefore = before.find((c) => c.connection_id === moved)!;
    assert.equal(movedBefore.migration_count, 2);
    assert.equal(movedBefore.close_reason, "H3_NO_ERROR: server shutting down", "by the shutdown");

    const stored = await readHistory(dataDir);
    assert.deepEqual(stored.get(moved), movedBefore, "the final state was written at shutdown");

    const lines: string[] = [];
    const second = await startTestServer(lines, { dataDir, history: HISTORY });
    try {
      assert.ok(lines.some((l) => l.includes("2 connections restored (0 lost at restart)")));
      for (const info of before) {
        assert.deepEqual(second.tracker.get(info.connection_id)!.toJSON(), info);
      }
      const client = await second.client();
      const api = await (await client.fetch(`/api/connections/${moved}`)).json();
      assert.equal(api.connection_id, moved);
      assert.deepEqual(api.migration_events, movedBefore.migration_events);
      assert.equal(api.close_reason, movedBefore.close_reason);
      const listed = await (await client.fetch("/api/connections?state=closed")).json();
      assert.deepEqual(Object.keys(listed.connections).sort(), [moved, quit].sort());
      assert.equal(listed.summary.open, 1, "only this client's connection is open");
      client.close();
    } finally {
      await second.stop();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("persistence: --max-closed applies to the stored history at restart", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "quic-persist-" });
  try {
    const first = await startTestServer([], { dataDir, history: HISTORY });
    for (let i = 0; i < 8; i++) {
      const client = await first.client();
      await idOf(client); // the server has tracked it
      client.close();
    }
    await first.stop();
    assert.equal((await readHistory(dataDir)).size, 8);
    const second = await startTestServer([], {
      dataDir,
      history: HISTORY,
      tracker: { maxClosed: 5 },
    });
    assert.equal(second.tracker.summary().closed, 5);
    await second.stop();
    const stored = await readHistory(dataDir);
    assert.equal(stored.size, 5);
    assert.ok([...stored.values()].every((c) => c.state === "closed"));
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

/** `main.ts` in its own process, with its output collected and awaitable. */
function spawnMain(dataDir: string, port: number, labPort: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "main.ts",
      ...["--host", "127.0.0.1", "--port", String(port), "--lab-port", String(labPort)],
      ...["--data-dir", dataDir, "--persist-interval", "50"],
    ],
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  let changed = () => {};
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      output += text;
      changed();
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  return {
    child,
    get output() {
      return output;
    },
    /** Resolves when the output matches `pattern`; rejects after `ms` or if the process ends. */
    waitFor(pattern: RegExp, ms = 20_000): Promise<void> {
      return within(
        new Promise<void>((resolve, reject) => {
          const check = () => {
            if (pattern.test(output)) resolve();
          };
          changed = check;
          check();
          child.status.then(() => setTimeout(() => reject(new Error(`exited:\n${output}`)), 0));
        }),
        ms,
        `${pattern} in the output:\n${output}`,
      );
    },
    /** Waits (at most `ms`) for the process to exit by itself, and for its output. */
    async exited(ms = 10_000): Promise<Deno.CommandStatus> {
      const status = await within(child.status, ms, `exit:\n${output}`);
      await pumps;
      return status;
    },
    /** Kills the process if still running and waits for it and its output. */
    async end(): Promise<Deno.CommandStatus> {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      const status = await child.status;
      await pumps;
      return status;
    },
  };
}

Deno.test("persistence: after kill -9, open connections come back lost_at_restart", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "quic-persist-" });
  let server = spawnMain(dataDir, freePort(), freePort());
  const clients: H3Client[] = [];
  try {
    await server.waitFor(/Admin token/);
    const port = Number(server.output.match(/https:\/\/localhost:(\d+) \(HTTP\/3/)![1]);
    const labPort = Number(server.output.match(/Migration lab: https:\/\/localhost:(\d+)/)![1]);
    const caPem = await Deno.readTextFile(`${dataDir}/certs/ca.pem`);
    const token = (await Deno.readTextFile(`${dataDir}/admin-token`)).trim();
    const connect = async (p: number, keepAliveInterval?: number) => {
      const c = await H3Client.connect({
        hostname: "127.0.0.1",
        port: p,
        serverName: "localhost",
        caCerts: [caPem],
        keepAliveInterval,
      });
      clients.push(c);
      return c;
    };

    // One connection that closed before the kill…
    const gone = await connect(port);
    const goneId = await idOf(gone);
    gone.close();
    const goneBefore = await persisted(dataDir, goneId, (c) => c.state === "closed");
    // …and one through the lab, moved once, still open at the kill.
    const stays = await connect(labPort, 50);
    const staysId = await idOf(stays);
    const control = await connect(port);
    const res = await control.fetch("/api/simulate-migration", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ connection_id: staysId, kind: "port", count: 1, interval_ms: 0 }),
    });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).migrations[0].detected, true);
    await idOf(stays); // validates the move
    const staysBefore = await persisted(
      dataDir,
      staysId,
      (c) => c.migration_events[0]?.outcome === "validated",
    );
    assert.equal(staysBefore.state, "open");

    const killed = await server.end();
    assert.equal(killed.signal, "SIGKILL");
    for (const c of clients.splice(0)) c.close();

    server = spawnMain(dataDir, freePort(), freePort());
    await server.waitFor(/Admin token/);
    assert.match(server.output, /3 connections restored \(2 lost at restart\)/);
    const newPort = Number(server.output.match(/https:\/\/localhost:(\d+) \(HTTP\/3/)![1]);
    const http = Deno.createHttpClient({ caCerts: [caPem] });
    try {
      const get = async (id: string) =>
        await (await fetch(`https://localhost:${newPort}/api/connections/${id}`, { client: http }))
          .json();
      const lost = await get(staysId);
      assert.equal(lost.state, "closed");
      assert.equal(lost.close_reason, "lost_at_restart");
      assert.equal(lost.migration_count, 1);
      assert.deepEqual(lost.migration_events, staysBefore.migration_events);
      assert.equal(lost.start_time, staysBefore.start_time);
      // Not part of the history: the lab's view and the live per-second request counts.
      const { lab: _lab, request_activity: _activity, ...goneAfter } = await get(goneId);
      assert.deepEqual(goneAfter, goneBefore, "written before the kill: intact");
      assert.equal((await readHistory(dataDir)).get(staysId)!.close_reason, "lost_at_restart");
    } finally {
      http.close();
    }
    server.child.kill("SIGTERM");
    assert.equal((await server.exited()).code, 0, server.output);
    const stored = await readHistory(dataDir);
    assert.ok([...stored.values()].every((c) => c.state === "closed"), "none left open");
  } finally {
    for (const c of clients) c.close();
    await server.end();
    await Deno.remove(dataDir, { recursive: true });
  }
});
