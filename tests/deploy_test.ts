/**
 * The deployment files stay in step with the code: the nginx template renders to exactly the
 * configuration `deno task cluster` writes, and every variable the systemd files set is one the
 * server reads.
 */

import { strict as assert } from "node:assert";
import { DEBIAN_STREAM_MODULE, nginxStreamConfig } from "../lib/cluster/nginx_config.ts";
import { OPTION_SPECS } from "../lib/cli/options.ts";

const deploy = (path: string) => new URL(`../deploy/${path}`, import.meta.url);

Deno.test("deploy: the nginx template renders to nginx_config.ts's text, one server line per node", async () => {
  const plan = {
    listen: "198.18.0.10:443",
    source: "198.18.0.10",
    nodes: ["198.18.0.11:9443", "198.18.0.12:9443", "[2001:db8::13]:9443"],
    runDir: "/run/quic-lb",
  };
  const output = await new Deno.Command("sh", {
    args: [
      deploy("nginx/render.sh").pathname,
      plan.listen,
      plan.source,
      plan.runDir,
      ...plan.nodes,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  assert.equal(
    new TextDecoder().decode(output.stdout),
    nginxStreamConfig({ ...plan, streamModule: DEBIAN_STREAM_MODULE }),
  );
  const usage = await new Deno.Command("sh", {
    args: [deploy("nginx/render.sh").pathname, "198.18.0.10:443"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(usage.code, 2, "too few arguments: usage, exit 2");
});

Deno.test("deploy: every QUIC_* variable in the systemd files is a server option's", async () => {
  const known = new Set(OPTION_SPECS.map((spec) => spec.envVar));
  const required = [
    "QUIC_HOST",
    "QUIC_PORT",
    "QUIC_NODE_ID",
    "QUIC_BALANCER",
    "QUIC_BALANCER_SOURCE",
    "QUIC_REDIS_URL",
    "QUIC_CERT",
    "QUIC_KEY",
  ];
  const example = await Deno.readTextFile(deploy("systemd/node.env.example"));
  const unit = await Deno.readTextFile(deploy("systemd/quic-node@.service"));
  const set = [...example.matchAll(/^(QUIC_[A-Z_]+)=/gm)].map((m) => m[1]);
  for (const name of required) assert.ok(set.includes(name), `node.env.example sets ${name}`);
  for (const name of [...set, ...unit.matchAll(/\b(QUIC_[A-Z_]+)=/g).map((m) => m[1])]) {
    assert.ok(known.has(name), `${name} is read by the server`);
  }
});
