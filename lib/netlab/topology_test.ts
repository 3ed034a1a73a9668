import { strict as assert } from "node:assert";
import {
  type Command,
  planTopology,
  slotOfName,
  switchCommands,
  teardownCommands,
  type Topology,
} from "./topology.ts";

const line = (command: Command) => command.argv.join(" ");

function addressesIn(topology: Topology): string[] {
  const all = [...topology.setup, ...switchCommands(topology, "wifi", "cellular")].flatMap((c) =>
    [...c.argv, c.stdin ?? ""].join(" ").match(/\b\d+\.\d+\.\d+\.\d+\b/g) ?? []
  );
  return [...new Set(all)];
}

Deno.test("topology: names carry the slot; interface names fit in 15 bytes", () => {
  const t = planTopology({ slot: 255, serverIps: 16, initialUplink: "wifi" });
  assert.equal(t.clientNs, "qnl255-client");
  assert.deepEqual(t.namespaces, ["qnl255-client", "qnl255-wifi", "qnl255-cellular"]);
  for (const name of [t.bridge, t.uplinks.wifi.rootLink, t.uplinks.cellular.rootLink]) {
    assert.ok(name.length <= 15, name);
    assert.equal(slotOfName(name), 255, name);
  }
  for (const ns of t.namespaces) assert.equal(slotOfName(ns), 255);
  assert.equal(slotOfName("qnl256"), undefined);
  assert.equal(slotOfName("qnl07"), undefined);
  assert.equal(slotOfName("qnlx"), undefined);
  assert.equal(slotOfName("eth0"), undefined);
  assert.throws(() => planTopology({ slot: 256, serverIps: 1, initialUplink: "wifi" }), RangeError);
});

Deno.test("topology: every address is in 198.18.0.0/15 (or the DNAT's loopback target)", () => {
  const t = planTopology({ slot: 7, serverIps: 3, dnatTo: "127.0.0.1", initialUplink: "wifi" });
  assert.deepEqual(t.serverIps, ["198.18.7.1", "198.18.7.2", "198.18.7.3"]);
  assert.equal(t.uplinks.wifi.publicIp, "198.18.7.101");
  assert.equal(t.uplinks.cellular.publicIp, "198.18.7.102");
  for (const addr of addressesIn(t)) {
    assert.ok(/^198\.1[89]\.7\./.test(addr) || addr === "127.0.0.1", addr);
  }
  // Two slots share no address.
  const other = planTopology({ slot: 8, serverIps: 3, initialUplink: "wifi" });
  const mine = new Set(addressesIn(t));
  assert.ok(addressesIn(other).every((addr) => !mine.has(addr)));
});

Deno.test("topology: the routers masquerade with random ports and drop unsolicited packets", () => {
  const t = planTopology({ slot: 1, serverIps: 1, initialUplink: "wifi" });
  const tables = t.setup.filter((c) => c.stdin !== undefined);
  assert.equal(tables.length, 2, "one table per router, none in the root without DNAT");
  for (const table of tables) {
    assert.match(table.stdin!, /oifname "wan" masquerade random/);
    assert.match(table.stdin!, /iifname "wan" ct state new drop/);
    assert.match(line(table), /^ip netns exec qnl1-(wifi|cellular) nft -f -$/);
  }
  assert.equal(t.rootTable, undefined);
  const dnat = planTopology({ slot: 1, serverIps: 1, dnatTo: "127.0.0.1", initialUplink: "wifi" });
  assert.equal(dnat.rootTable, "qnl1");
  const rootTable = dnat.setup.find((c) => c.argv[0] === "nft")!;
  assert.match(rootTable.stdin!, /iifname "qnl1" ip daddr 198\.18\.1\.1 dnat to 127\.0\.0\.1/);
  assert.ok(dnat.setup.some((c) => line(c) === "sysctl -qw net.ipv4.conf.qnl1.route_localnet=1"));
});

Deno.test("topology: the client starts on its initial uplink; the other is down", () => {
  const t = planTopology({ slot: 2, serverIps: 1, initialUplink: "cellular" });
  const lines = t.setup.map(line);
  assert.ok(lines.includes("ip -n qnl2-client route add default via 198.19.2.17"));
  assert.equal(lines.at(-1), "ip -n qnl2-client route add default via 198.19.2.17");
  assert.ok(lines.indexOf("ip -n qnl2-wifi link set lan down") > 0);
  assert.ok(!lines.includes("ip -n qnl2-cellular link set lan down"));
});

Deno.test("topology: a rate puts a tbf on both of the client's uplinks", () => {
  const lines = planTopology({ slot: 3, serverIps: 1, initialUplink: "wifi", rate: "40mbit" })
    .setup.map(line).filter((l) => l.startsWith("tc "));
  assert.deepEqual(lines, [
    "tc -n qnl3-client qdisc add dev wifi root tbf rate 40mbit burst 64kb latency 50ms",
    "tc -n qnl3-client qdisc add dev cellular root tbf rate 40mbit burst 64kb latency 50ms",
  ]);
});

Deno.test("topology: a switch brings the new uplink up first and forgets the old mappings last", () => {
  const t = planTopology({ slot: 4, serverIps: 1, initialUplink: "wifi" });
  assert.deepEqual(switchCommands(t, "wifi", "cellular").map(line), [
    "ip -n qnl4-cellular link set lan up",
    "ip -n qnl4-cellular route replace 198.19.4.0/24 via 198.19.4.18 dev lan",
    "ip -n qnl4-client route replace default via 198.19.4.17 dev cellular",
    "ip -n qnl4-wifi link set lan down",
    "ip netns exec qnl4-wifi conntrack -D -p udp",
  ]);
});

Deno.test("topology: teardown names everything setup creates in the root namespace", () => {
  const t = planTopology({ slot: 9, serverIps: 2, dnatTo: "127.0.0.1", initialUplink: "wifi" });
  const teardown = teardownCommands(9).map(line);
  for (const ns of t.namespaces) assert.ok(teardown.includes(`ip netns del ${ns}`), ns);
  for (const link of [t.bridge, t.uplinks.wifi.rootLink, t.uplinks.cellular.rootLink]) {
    assert.ok(teardown.includes(`ip link del ${link}`), link);
  }
  assert.ok(teardown.includes("nft delete table ip qnl9"));
  assert.deepEqual(t.teardown, teardownCommands(9));
  // Root-namespace links setup creates: the bridge and the two veth ends, nothing else.
  const rootLinks = t.setup.filter((c) => c.argv[1] === "link" && c.argv[2] === "add")
    .map((c) => c.argv[3]);
  assert.deepEqual(rootLinks, ["qnl9", "qnl9w", "qnl9c"]);
});
