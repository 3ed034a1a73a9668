/**
 * The network lab end to end with ngtcp2's client: `gtlsclient` uploads 50 MiB to `/api/echo`
 * from the lab's client namespace, behind real NATs, while netlab rebinds its NAT mapping three
 * times and switches its uplink twice. The echo must come back intact on one connection, the
 * server must have recorded exactly those five migrations (the NATs' public addresses as
 * old/new, the kind each event implies, the outcome that happened), netlab must say so and
 * exit 0, and nothing of the lab may remain.
 *
 * Runs as root (CI does); without root it fails with one line, never skips.
 */

import { strict as assert } from "node:assert";
import { runNetlab } from "../lib/netlab/cli.ts";
import type { NetlabReport } from "../lib/netlab/report.ts";
import { sha256Stream, startTestServer } from "./support/server.ts";
import { assertCanBuildLabs, labLeftovers } from "./support/netlab.ts";

const UPLOAD_BYTES = 50 * 1024 * 1024;
/**
 * The uplinks' rate: it makes the upload last well past the last event (a faster machine cannot
 * finish early), and a slower one only stretches it.
 */
const RATE = "40mbit";
const EVENTS = "1s:rebind,2.5s:switch,4s:rebind,5.5s:switch,7s:rebind";
const EXPECTED = [
  ["rebind", "port_change"],
  ["switch", "address_change"],
  ["rebind", "port_change"],
  ["switch", "address_change"],
  ["rebind", "port_change"],
];

type JsonReport = NetlabReport & { slot: number };

async function sha256File(path: string) {
  using file = await Deno.open(path);
  return await sha256Stream(file.readable);
}

Deno.test("netlab: gtlsclient uploads 50 MiB through 3 NAT rebindings and 2 network switches", async () => {
  assertCanBuildLabs();
  const server = await startTestServer();
  const dir = await Deno.makeTempDir({ prefix: "netlab-test-" });
  let slot: number | undefined;
  try {
    const caFile = `${dir}/ca.pem`;
    await Deno.writeTextFile(caFile, server.caPem);
    const upload = `${dir}/upload.bin`;
    {
      using file = await Deno.open(upload, { write: true, createNew: true });
      const chunk = new Uint8Array(1024 * 1024);
      for (let i = 0; i < UPLOAD_BYTES / chunk.length; i++) {
        // getRandomValues fills at most 64 KiB per call.
        for (let at = 0; at < chunk.length; at += 65536) {
          crypto.getRandomValues(chunk.subarray(at, at + 65536));
        }
        for (let written = 0; written < chunk.length;) {
          written += await file.write(chunk.subarray(written));
        }
      }
    }
    await Deno.mkdir(`${dir}/download`);
    const reportFile = `${dir}/report.json`;
    const url = `https://localhost:${server.port}`;
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await runNetlab([
      ...["--server", url, "--ca", caFile, "--rate", RATE, "--events", EVENTS],
      ...["--report-json", reportFile, "--timeout", "120s", "--"],
      ...["gtlsclient", "-q", "--exit-on-all-streams-close", "--timeout=30s"],
      ...["--download", `${dir}/download`, "-m", "POST", "-d", upload],
      "{server_ip}",
      String(server.port),
      `${url}/api/echo`,
    ], {
      stdout: (text) => stdout.push(text),
      stderr: (text) => stderr.push(text),
      clientStdio: "inherit",
      handleSignals: false,
    });
    const log = stderr.join("") + stdout.join("");
    const report: JsonReport = JSON.parse(await Deno.readTextFile(reportFile));
    slot = report.slot;
    assert.equal(code, 0, log);
    assert.equal(report.clientExitCode, 0, log);

    // The echo came back intact.
    const sent = await sha256File(upload);
    const echoed = await sha256File(`${dir}/download/echo`);
    assert.equal(echoed.bytes, UPLOAD_BYTES, log);
    assert.equal(echoed.hex, sent.hex, "the echo differs from the upload");

    // One connection from the lab, with exactly the five migrations netlab caused.
    const publicIps = new Set(["wifi", "cellular"].map((_, i) => `198.18.${slot}.${101 + i}`));
    const fromLab = [...server.tracker.openConnections(), ...server.tracker.closedConnections()]
      .map((conn) => conn.toJSON())
      .filter((conn) => publicIps.has(conn.remote_addr.split(":")[0]));
    assert.equal(fromLab.length, 1, `connections from the lab: ${JSON.stringify(fromLab)}`);
    const conn = fromLab[0];
    assert.equal(conn.migration_count, 5, log);
    assert.deepEqual(report.connections.map((c) => c.connection_id), [conn.connection_id]);

    assert.equal(report.events.length, 5, log);
    for (const [i, event] of report.events.entries()) {
      const [kind, migrationKind] = EXPECTED[i];
      assert.equal(event.kind, kind);
      assert.equal(event.flows.length, 1, `event ${i}: one flow (${log})`);
      const flow = event.flows[0];
      assert.equal(flow.verdict, "seen", `event ${i}: ${log}`);
      assert.ok(flow.replied, `event ${i}: the server answered on the new path`);
      const recorded = conn.migration_events[i];
      assert.equal(recorded.old_addr, flow.before, `migration ${i} old address`);
      assert.equal(recorded.new_addr, flow.after, `migration ${i} new address`);
      assert.ok(publicIps.has(recorded.old_addr.split(":")[0]), recorded.old_addr);
      assert.ok(publicIps.has(recorded.new_addr.split(":")[0]), recorded.new_addr);
      assert.equal(recorded.kind, migrationKind, `migration ${i} kind`);
      // The upload went on for seconds after every event: each new path stood and validated.
      assert.equal(recorded.outcome, "validated", `migration ${i} outcome`);
    }
    // A switch moves to the other NAT's public address; a rebinding keeps it, with a new port.
    const hosts = conn.migration_events.map((m) => m.new_addr.split(":")[0]);
    assert.deepEqual(hosts, [
      `198.18.${slot}.101`,
      `198.18.${slot}.102`,
      `198.18.${slot}.102`,
      `198.18.${slot}.101`,
      `198.18.${slot}.101`,
    ]);
    assert.equal(report.unexpected.length, 0);
    assert.match(stdout.join(""), /netlab: PASS: 5 of 5 network change\(s\)/);
    // Every event was logged with its time and addresses before and after.
    assert.equal(
      log.match(/netlab: \+\d+\.\d{3}s (rebind|switch) .*198\.18\.\d+\.10[12]:\d+ → /g)?.length,
      5,
      log,
    );
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
  assert.ok(slot !== undefined);
  assert.deepEqual(await labLeftovers(slot), [], "nothing of the lab remains");
});
