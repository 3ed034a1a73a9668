/**
 * The migration benchmark's client side: holds `--conns` HTTP/3 connections through the
 * migration lab's relay (one UDP socket each, as separate clients behind a NAT would have),
 * keeps requests flowing on them, and asks the server's lab to rebind `--migrations` of them,
 * one at a time, through `POST /api/simulate-migration` on a separate control connection.
 *
 * While a connection is being rebound, it starts a `GET /healthz` every `--poke-ms` (1 ms),
 * not waiting for earlier answers (at most 32 outstanding), as a client streaming requests
 * would: its next packet after the rebinding leaves within about a millisecond, so the lab's
 * detection delay is the server's reaction time to a migrating connection carrying traffic,
 * not the client's retransmission timer (responses in flight on the old mapping are lost, as
 * behind a real NAT, and a client only waiting for them sends nothing until its PTO fires). `--load` other request loops
 * cycle over all connections meanwhile ("under load"). Every request that fails or answers
 * other than 200 counts as failed.
 *
 * Then `--quiet-migrations` more rebindings with the background loops stopped, to tell the
 * server's own delay from contention with the load.
 *
 * Prints `progress …` lines and finally one line `result <JSON>`.
 *
 * ```sh
 * deno run -A bench/tools/migration_clients.ts --port 9443 --lab-port 9444 --ca ca.pem \
 *   --token t --conns 1000 --migrations 1000
 * ```
 * @module
 */

import { H3Client } from "../../lib/h3/client.ts";
import { flag, intFlag, sleep } from "./args.ts";

const args = Deno.args;
const port = intFlag(args, "port");
const labPort = intFlag(args, "lab-port");
const caCerts = [await Deno.readTextFile(flag(args, "ca"))];
const token = flag(args, "token");
const connCount = intFlag(args, "conns", 1000);
const migrations = intFlag(args, "migrations", 1000);
const quietMigrations = intFlag(args, "quiet-migrations", 0);
const loadLoops = intFlag(args, "load", 4);
const concurrency = intFlag(args, "concurrency", 32);
const pokeEveryMs = intFlag(args, "poke-ms", 1);
const pokeMaxOutstanding = 32;

interface Held {
  client: H3Client;
  id: string;
}

const counts = { requests: 0, failed: 0, loadRequests: 0 };
const failures: string[] = [];

async function get(held: Held): Promise<void> {
  counts.requests++;
  try {
    const res = await held.client.fetch("/healthz");
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`status ${res.status}`);
  } catch (error) {
    counts.failed++;
    if (failures.length < 10) failures.push(`${held.id}: ${error}`);
  }
}

async function connect(p: number): Promise<Held> {
  const client = await H3Client.connect({
    hostname: "127.0.0.1",
    port: p,
    serverName: "localhost",
    caCerts,
    keepAliveInterval: 5000,
    maxIdleTimeout: 60_000,
  });
  const res = await client.fetch("/healthz");
  await res.arrayBuffer();
  const id = res.headers.get("x-connection-id");
  if (id === null) throw new Error("no x-connection-id");
  return { client, id };
}

const held: Held[] = [];
let issued = 0;
let connectFailures = 0;
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (issued < connCount) {
    issued++;
    try {
      held.push(await connect(labPort));
      if (held.length % 250 === 0) console.log(`progress connected ${held.length}/${connCount}`);
    } catch (error) {
      connectFailures++;
      if (connectFailures > 50) throw new Error(`${connectFailures} connections failed: ${error}`);
      issued--;
    }
  }
}));
const control = await connect(port);

let running = true;
const load = Array.from({ length: loadLoops }, async (_, loop) => {
  for (let i = loop; running; i += loadLoops) {
    await get(held[i % held.length]);
    counts.loadRequests++;
  }
});

interface Migration {
  kind: string;
  detected: boolean;
  detected_by: string | null;
  detection_delay_ms: number | null;
  outcome: string;
  client_sent_on_new_path: boolean;
  client_sent_after_ms: number | null;
}
const errors: string[] = [];

/** Rebinds `count` connections in turn from `first`, each while it streams requests. */
async function migrateSeries(first: number, count: number, label: string): Promise<Migration[]> {
  const results: Migration[] = [];
  for (let m = first; m < first + count; m++) {
    const target = held[m % held.length];
    let poking = true;
    const poke = (async () => {
      const outstanding = new Set<Promise<void>>();
      while (poking) {
        if (outstanding.size < pokeMaxOutstanding) {
          const p: Promise<void> = get(target).finally(() => outstanding.delete(p));
          outstanding.add(p);
        }
        await sleep(pokeEveryMs);
      }
      await Promise.all(outstanding);
    })();
    try {
      const res = await control.client.fetch("/api/simulate-migration", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({
          connection_id: target.id,
          kind: m % 2 === 0 ? "port" : "address",
          count: 1,
          interval_ms: 0,
        }),
      });
      const body = await res.json();
      if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(body)}`);
      results.push(body.migrations[0]);
    } catch (error) {
      if (errors.length < 10) errors.push(String(error));
      results.push({
        kind: "error",
        detected: false,
        detected_by: null,
        detection_delay_ms: null,
        outcome: "error",
        client_sent_on_new_path: false,
        client_sent_after_ms: null,
      });
    }
    poking = false;
    await poke;
    const done = m - first + 1;
    if (done % 100 === 0) console.log(`progress migrated ${done}/${count} ${label}`);
  }
  return results;
}

const started = performance.now();
const results = await migrateSeries(0, migrations, "under load");
const migrateMs = performance.now() - started;
running = false;
await Promise.all(load);
// The same without the background loops: only the rebound connection carries requests.
const quiet = await migrateSeries(migrations, quietMigrations, "without background load");
// A last request on every connection: did each survive its migrations?
let alive = 0;
await Promise.all(held.map(async (h) => {
  const before = counts.failed;
  await get(h);
  if (counts.failed === before) alive++;
}));
function summary(r: Migration) {
  return {
    kind: r.kind,
    detected: r.detected,
    by: r.detected_by,
    ms: r.detection_delay_ms,
    outcome: r.outcome,
    clientOnNewPath: r.client_sent_on_new_path,
    clientSentAfterMs: r.client_sent_after_ms,
  };
}
console.log(`result ${
  JSON.stringify({
    conns: held.length,
    connectFailures,
    migrateMs: Math.round(migrateMs),
    ...counts,
    alive,
    failures,
    errors,
    migrations: results.map(summary),
    quietMigrations: quiet.map(summary),
  })
}`);
for (const h of held) h.client.close();
control.client.close();
Deno.exit(0);
