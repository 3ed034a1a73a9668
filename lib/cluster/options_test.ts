import { strict as assert } from "node:assert";
import { ConfigError } from "../cli/server_config.ts";
import {
  balancerAddr,
  type ClusterOptions,
  nodeArguments,
  parseAddresses,
  parseClusterOptions,
  planNodes,
} from "./options.ts";

const parse = (args: string[], env: Record<string, string> = {}) => parseClusterOptions(args, env);

/** The one-line message `args` is refused with. */
function refusal(args: string[]): string {
  try {
    parse(args);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    assert.ok(!error.message.includes("\n"), "one line");
    return error.message;
  }
  assert.fail(`${JSON.stringify(args)} was accepted`);
}

Deno.test("cluster defaults: 3 loopback nodes on 9443, the balancer on 127.0.0.1:8443 forwarding from 127.0.0.9", () => {
  const options = parse([]);
  assert.deepEqual(options.addresses, {
    balancer: "127.0.0.1",
    source: "127.0.0.9",
    nodes: ["127.0.0.11", "127.0.0.12", "127.0.0.13"],
  });
  assert.equal(balancerAddr(options), "127.0.0.1:8443");
  assert.deepEqual(planNodes(options), [
    { name: "node1", ip: "127.0.0.11", port: 9443, labPort: 9444, dataDir: ".data/cluster/node1" },
    { name: "node2", ip: "127.0.0.12", port: 9443, labPort: 9445, dataDir: ".data/cluster/node2" },
    { name: "node3", ip: "127.0.0.13", port: 9443, labPort: 9446, dataDir: ".data/cluster/node3" },
  ]);
  assert.equal(options.redisUrl, undefined);
  assert.deepEqual(options.nodeArgs, []);
});

Deno.test("cluster options: every flag, both spellings, and QUIC_DATA_DIR below the flag", () => {
  const options = parse(
    ["--nodes=2", "--port", "7000", "--balancer-port=7443", "--redis", "redis://10.0.0.5:6379/1"],
    { QUIC_DATA_DIR: "/srv/qms" },
  );
  assert.equal(options.addresses.nodes.length, 2);
  assert.equal(options.port, 7000);
  assert.equal(options.balancerPort, 7443);
  assert.equal(options.redisUrl, "redis://10.0.0.5:6379/1");
  assert.equal(options.dataDir, "/srv/qms");
  assert.equal(parse(["--data-dir", "d"], { QUIC_DATA_DIR: "/srv/qms" }).dataDir, "d");
  assert.equal(parse(["--help", "--nodes", "zero"]).help, true, "--help wins over errors");
});

Deno.test("--addresses: the lab's internet segment, source defaulting to the balancer's own IP", () => {
  const options = parse(["--addresses", "balancer=198.18.0.10,nodes=198.18.0.11+198.18.0.12"]);
  assert.deepEqual(options.addresses, {
    balancer: "198.18.0.10",
    source: "198.18.0.10",
    nodes: ["198.18.0.11", "198.18.0.12"],
  });
  assert.deepEqual(parseAddresses("source=::1,nodes=::1", "x"), { source: "::1", nodes: ["::1"] });
  assert.equal(
    parse(["--addresses", "balancer=::1,source=::1,nodes=::1", "--balancer-port", "8443"])
      .addresses.balancer,
    "::1",
  );
});

Deno.test("cluster refuses, in one line, what cannot work", () => {
  const cases: Array<[string[], RegExp]> = [
    [["--nodes", "0"], /--nodes: "0" is not a number of nodes from 1 to 32/],
    [["--nodes"], /--nodes needs a value/],
    [["--port", "70000"], /--port: "70000" is not a port/],
    [["--bogus"], /unknown option "--bogus"/],
    [["stray"], /unexpected argument "stray" \(node options go after --\)/],
    [["--redis", "http://x"], /is not a redis:\/\/ or rediss:\/\/ URL/],
    [["--addresses", "lb=1.2.3.4"], /"lb=1.2.3.4" is not balancer=IP, source=IP or nodes=/],
    [["--addresses", "nodes=1.2.3.4+nope"], /nodes= "nope" is not an IP address/],
    [["--addresses", "source=1.1.1.1,source=1.1.1.2"], /source= given twice/],
    [["--addresses", "nodes=127.0.0.5+127.0.0.5"], /node IP 127.0.0.5 is listed twice/],
    [["--addresses", "nodes=0.0.0.0"], /wildcard/],
    [["--addresses", "nodes=::1"], /source=127.0.0.9 and the nodes must be one IP family/],
    [["--nodes", "2", "--addresses", "nodes=127.0.0.5"], /--nodes 2 but --addresses names 1/],
    [["--port", "65534"], /need ports up to 65537, past 65535/],
    [
      ["--addresses", "balancer=127.0.0.11", "--balancer-port", "9443"],
      /--balancer-port 9443 on 127.0.0.11 is taken by node1/,
    ],
    [["--", "--port", "1"], /node option --port is set by cluster for each node; use --port/],
    [["--", "--host=::"], /node option --host is set by cluster/],
    [["--", "--max-streams", "0"], /^node option: --max-streams: "0"/],
    [["--", "--cert", "c.pem"], /^node option: --cert "c.pem" given without --key/],
  ];
  for (const [args, expected] of cases) {
    assert.match(refusal(args), expected, JSON.stringify(args));
  }
});

Deno.test("a node's arguments: its own address, the shared balancer, Redis and leaf, then the options after --", () => {
  const options: ClusterOptions = parse(["--nodes", "2", "--", "--log-format", "json"]);
  const [, second] = planNodes(options);
  assert.deepEqual(
    nodeArguments(options, second, {
      redisUrl: "redis://127.0.0.1:1234",
      certPath: "c.pem",
      keyPath: "k.pem",
    }),
    [
      ...["--host", "127.0.0.12", "--port", "9443", "--lab-port", "9445", "--node-id", "node2"],
      ...["--balancer", "127.0.0.1:8443", "--balancer-source", "127.0.0.9"],
      ...["--redis", "redis://127.0.0.1:1234", "--data-dir", ".data/cluster/node2"],
      ...["--cert", "c.pem", "--key", "k.pem", "--log-format", "json"],
    ],
  );
  const own = parse(["--nodes", "1", "--", "--cert", "mine.pem", "--key=mine-key.pem"]);
  const args = nodeArguments(own, planNodes(own)[0], {
    redisUrl: "redis://127.0.0.1:1",
    certPath: "c.pem",
    keyPath: "k.pem",
  });
  assert.ok(!args.includes("c.pem"), "a node's own --cert/--key replace the shared leaf");
  assert.deepEqual(args.slice(-3), ["--cert", "mine.pem", "--key=mine-key.pem"]);
});
