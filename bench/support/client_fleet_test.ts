/**
 * Tests of the bench's client namespaces (`client_fleet.ts`): the plan's names and addresses,
 * the script that spreads clients over the namespaces (run with a stand-in `nsenter`), and, as
 * root, a real fleet: a server on a fleet address sees each namespace's own source address,
 * and nothing of the fleet remains after `close` or after a crashed run's leftovers are
 * reclaimed. The root tests fail with one line without root, never skip.
 */

import { strict as assert } from "node:assert";
import { ClientFleet, planClientFleet, spreadClientsScript } from "./client_fleet.ts";
import { reclaimStale, STATE_DIR } from "../../lib/netlab/slots.ts";
import { slotOfName } from "../../lib/netlab/topology.ts";
import { assertCanBuildLabs, labLeftovers } from "../../tests/support/netlab.ts";

/** Upper bound for a client run in a namespace (curl to a local address). */
const CLIENT_MS = 15_000;

Deno.test("planClientFleet: names of the slot, one address per namespace, servers apart", () => {
  const plan = planClientFleet({ slot: 201, serverIps: 3, clients: 4 });
  assert.deepEqual(plan.serverIps, ["198.18.201.1", "198.18.201.2", "198.18.201.3"]);
  assert.deepEqual(plan.clients.map((c) => c.ip), [
    "198.18.201.101",
    "198.18.201.102",
    "198.18.201.103",
    "198.18.201.104",
  ]);
  assert.equal(plan.bridge, "qnl201");
  for (const client of plan.clients) {
    // A crashed run's namespaces and links must be found again by their slot.
    assert.equal(slotOfName(client.namespace), 201, client.namespace);
    assert.ok(client.namespace.length <= 15, `${client.namespace}: a link name has ≤ 15 bytes`);
    assert.deepEqual(client.enter, ["nsenter", `--net=/run/netns/${client.namespace}`]);
  }
  const setup = plan.setup.map((c) => c.argv.join(" "));
  assert.equal(setup[0], "ip link add qnl201 type bridge");
  for (const ip of plan.serverIps) assert.ok(setup.includes(`ip addr add ${ip}/24 dev qnl201`));
  for (const c of plan.clients) {
    const ns = c.namespace;
    assert.ok(setup.includes(`ip link add ${ns} type veth peer name eth0 netns ${ns}`), ns);
    assert.ok(setup.includes(`ip link set ${ns} master qnl201 up`), ns);
    assert.ok(setup.includes(`ip -n ${ns} addr add ${c.ip}/24 dev eth0`), ns);
    // The namespace exists before anything is put in it.
    assert.ok(setup.indexOf(`ip netns add ${ns}`) < setup.indexOf(`ip -n ${ns} link set lo up`));
  }
});

Deno.test("planClientFleet refuses sizes out of range, naming the input", () => {
  assert.throws(() => planClientFleet({ slot: 256, serverIps: 1, clients: 1 }), /slot/);
  assert.throws(() => planClientFleet({ slot: 0, serverIps: 0, clients: 1 }), /serverIps/);
  assert.throws(() => planClientFleet({ slot: 0, serverIps: 1, clients: 65 }), /clients/);
  assert.throws(() => planClientFleet({ slot: 0, serverIps: 1.5, clients: 1 }), /serverIps/);
});

Deno.test("spreadClientsScript starts every client, in the namespaces in turn, and reports failures", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fleet-script-" });
  try {
    // A stand-in nsenter: records the namespace it was asked for, then runs the program.
    const log = `${dir}/entered`;
    await Deno.writeTextFile(
      `${dir}/nsenter`,
      `#!/bin/sh\necho "\${1#--net=/run/netns/}" >> ${log}\nshift\nexec "$@"\n`,
      { mode: 0o755 },
    );
    const { clients } = planClientFleet({ slot: 7, serverIps: 1, clients: 3 });
    const run = async (argv: string[], count: number) => {
      const out = await new Deno.Command("sh", {
        args: ["-c", spreadClientsScript(clients, argv, count)],
        env: { PATH: `${dir}:${Deno.env.get("PATH")}` },
        stdout: "piped",
        stderr: "piped",
      }).output();
      return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
    };
    const ok = await run(["true"], 7);
    assert.equal(ok.code, 0);
    assert.equal(ok.stderr, "");
    const entered = (await Deno.readTextFile(log)).trim().split("\n").sort();
    assert.deepEqual(entered, [
      "qnl7-k0",
      "qnl7-k0",
      "qnl7-k0",
      "qnl7-k1",
      "qnl7-k1",
      "qnl7-k2",
      "qnl7-k2",
    ]);
    const failing = await run(["sh", "-c", "'exit 3'"], 2);
    assert.equal(failing.stderr.trim().split("\n").sort().join(","), "client exit 3,client exit 3");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs curl to `url` inside `enter`'s namespace; returns its exit code and output. */
async function curlFrom(enter: string[], url: string): Promise<{ code: number; body: string }> {
  const out = await new Deno.Command(enter[0], {
    args: [...enter.slice(1), "curl", "-s", "--max-time", "10", url],
    stdout: "piped",
    stderr: "null",
    signal: AbortSignal.timeout(CLIENT_MS),
  }).output();
  return { code: out.code, body: new TextDecoder().decode(out.stdout) };
}

Deno.test("ClientFleet: a server on a fleet address sees each namespace's own address; close removes it all", async () => {
  assertCanBuildLabs();
  const fleet = await ClientFleet.create({ serverIps: 2, clients: 3 });
  const { slot } = fleet.plan;
  try {
    assert.notDeepEqual(await labLeftovers(slot), [], "the fleet is on this machine");
    const server = Deno.serve(
      { hostname: fleet.plan.serverIps[1], port: 0, onListen: () => {} },
      (_req, info) => new Response((info.remoteAddr as Deno.NetAddr).hostname),
    );
    try {
      const url = `http://${fleet.plan.serverIps[1]}:${server.addr.port}/`;
      const seen = [];
      for (const client of fleet.plan.clients) {
        const { code, body } = await curlFrom(client.enter, url);
        assert.equal(code, 0, `curl from ${client.namespace}`);
        seen.push(body);
      }
      assert.deepEqual(seen, fleet.plan.clients.map((c) => c.ip));
    } finally {
      await server.shutdown();
    }
  } finally {
    await fleet.close();
  }
  assert.deepEqual(await labLeftovers(slot), []);
});

Deno.test("ClientFleet: the next run removes what a crashed fleet left", async () => {
  assertCanBuildLabs();
  const fleet = await ClientFleet.create({ serverIps: 1, clients: 2 });
  const { slot } = fleet.plan;
  try {
    // As after kill -9: the slot's owner is a process that is gone (pid 0 never names one).
    await Deno.writeTextFile(`${STATE_DIR}/${slot}.json`, '{"pid":0,"startTime":"1"}\n');
    const reclaimed = await reclaimStale();
    assert.ok(reclaimed.includes(slot), `slot ${slot} reclaimed (${reclaimed.join(", ")})`);
    assert.deepEqual(await labLeftovers(slot), []);
  } finally {
    await fleet.close();
  }
});

Deno.test("ClientFleet: close leaves no root link even while a namespace is still held open", async () => {
  assertCanBuildLabs();
  const fleet = await ClientFleet.create({ serverIps: 1, clients: 1 });
  const { slot } = fleet.plan;
  // An open handle keeps the namespace, and the veth inside it, alive after `ip netns del`, as a
  // process still exiting does; the kernel also destroys namespaces late on its own.
  const held = await Deno.open(`/run/netns/${fleet.plan.clients[0].namespace}`);
  try {
    await fleet.close();
    assert.deepEqual(await labLeftovers(slot), []);
  } finally {
    held.close();
  }
});
