import { strict as assert } from "node:assert";
import { parseConfig } from "./config.ts";
import { advertisesPreferredAddress, balancerSources } from "./cluster_options.ts";

const node = ["--host", "198.18.0.11", "--port", "9443"];

Deno.test("cluster options: a node behind a balancer advertises its own address by default", () => {
  const config = parseConfig([...node, "--balancer", "198.18.0.10:443", "--node-id", "n1"], {});
  assert.equal(config.cluster.nodeId, "n1");
  assert.equal(advertisesPreferredAddress(config.cluster), true);
  assert.deepEqual(balancerSources(config.cluster), ["198.18.0.10"]);
  const off = parseConfig(
    [...node, "--balancer", "198.18.0.10:443", "--preferred-address", "off"],
    {},
  );
  assert.equal(advertisesPreferredAddress(off.cluster), false, "a switch turns it off");
  const source = parseConfig([
    ...node,
    "--balancer",
    "198.18.0.10:443",
    "--balancer-source",
    "198.18.0.9",
  ], {});
  assert.deepEqual(balancerSources(source.cluster), ["198.18.0.9"]);
});

Deno.test("cluster options: without a balancer or Redis the server is on its own", () => {
  const config = parseConfig([], {});
  assert.deepEqual(config.cluster, { preferredAddress: "auto" });
  assert.equal(advertisesPreferredAddress(config.cluster), false);
  assert.deepEqual(balancerSources(config.cluster), []);
});

Deno.test("cluster options: a preferred address other than the bind address is refused", () => {
  assert.throws(
    () => parseConfig([...node, "--preferred-address", "198.18.0.12:9443"], {}),
    /--preferred-address 198\.18\.0\.12:9443 differs from the bind address --host 198\.18\.0\.11 --port 9443/,
  );
  assert.throws(
    () => parseConfig([...node, "--preferred-address", "198.18.0.11:9444"], {}),
    /differs from the bind address/,
  );
  const same = parseConfig([...node, "--preferred-address", "198.18.0.11:9443"], {});
  assert.equal(advertisesPreferredAddress(same.cluster), true);
});

Deno.test("cluster options: a preferred address needs a specific bind IP, not a wildcard", () => {
  for (const host of ["::", "0.0.0.0", "localhost"]) {
    assert.throws(
      () => parseConfig(["--host", host, "--balancer", "198.18.0.10:443"], {}),
      /needs this node's own IP as --host/,
      host,
    );
  }
  const off = parseConfig([
    "--host",
    "::",
    "--balancer",
    "198.18.0.10:443",
    "--preferred-address",
    "off",
  ], {});
  assert.equal(off.cluster.balancer, "198.18.0.10:443", "with advertising off a wildcard is fine");
});

Deno.test("cluster options: bad values are one line naming the option", () => {
  for (
    const [args, pattern] of [
      [["--balancer", "nowhere"], /--balancer: "nowhere" is not an IP:PORT/],
      [["--balancer", "::1:443"], /is not an IP:PORT/],
      [
        ["--preferred-address", "maybe"],
        /--preferred-address: "maybe" is not auto, on, off or an IP:PORT/,
      ],
      [["--redis", "http://x"], /--redis: "http:\/\/x" is not a redis/],
      [["--node-id", "a b"], /--node-id: "a b" is not a node id/],
      [["--balancer-source", "host"], /--balancer-source: "host" is not an IP address/],
    ] as const
  ) {
    assert.throws(() => parseConfig([...args], {}), pattern);
  }
});
