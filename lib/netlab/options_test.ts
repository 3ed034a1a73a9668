import { strict as assert } from "node:assert";
import { ConfigError } from "../cli/server_config.ts";
import { loopbackTarget, NETLAB_HELP, parseNetlabOptions, substituteServerIp } from "./options.ts";

Deno.test("netlab options: the issue's command line", () => {
  const options = parseNetlabOptions(
    [
      "--events",
      "1s:rebind,2s:switch",
      "--rebind-every=3s",
      "--",
      "gtlsclient",
      "{server_ip}",
      "9443",
    ],
    {},
  );
  assert.equal(options.server.href, "https://localhost:9443/");
  assert.deepEqual(options.events.map((e) => e.kind), ["rebind", "switch"]);
  assert.deepEqual(options.periodic, [{ kind: "rebind", everyMs: 3000 }]);
  assert.deepEqual(options.command, ["gtlsclient", "{server_ip}", "9443"]);
  assert.equal(options.initialUplink, "wifi");
  assert.equal(options.serverIps, 1);
  assert.equal(options.help, false);
});

Deno.test("netlab options: every flag, and the environment under the flags", () => {
  const options = parseNetlabOptions([
    ...["--server", "https://127.0.0.1:8443", "--start-on", "cellular", "--rate", "40mbit"],
    ...["--server-ips", "3", "--timeout", "30s", "--settle", "2s", "--ca", "ca.pem"],
    ...["--report-json", "r.json", "--switch-every", "5s", "--admin-token", "flag"],
    ...["--", "sh", "-c", "--events x"],
  ], { QUIC_DATA_DIR: "/srv/data", QUIC_ADMIN_TOKEN: "env" });
  assert.equal(options.server.port, "8443");
  assert.equal(options.initialUplink, "cellular");
  assert.equal(options.rate, "40mbit");
  assert.equal(options.serverIps, 3);
  assert.equal(options.timeoutMs, 30_000);
  assert.equal(options.settleMs, 2000);
  assert.equal(options.caPath, "ca.pem");
  assert.equal(options.reportJson, "r.json");
  assert.equal(options.dataDir, "/srv/data");
  assert.equal(options.adminToken, "flag");
  assert.deepEqual(options.periodic, [{ kind: "switch", everyMs: 5000 }]);
  assert.deepEqual(options.command, ["sh", "-c", "--events x"], "after -- nothing is an option");
});

Deno.test("netlab options: bad arguments are one line each", () => {
  const cases: Array<[string[], RegExp]> = [
    [["gtlsclient"], /unexpected argument "gtlsclient" \(put the client command after --\)/],
    [["--events", "1s:rebind"], /no client command/],
    [["--bogus", "--", "x"], /unknown option "--bogus"/],
    [["--server", "http://localhost:9443", "--", "x"], /not an https:\/\/ URL/],
    [["--server", "https://[::1]:9443", "--", "x"], /the lab is IPv4/],
    [["--start-on", "ethernet", "--", "x"], /not an uplink/],
    [["--rate", "fast", "--", "x"], /not a rate/],
    [["--server-ips", "17", "--", "x"], /from 1 to 16/],
    [["--rebind-every", "0", "--", "x"], /longer than 0/],
    [["--events", "--", "x"], /--events needs a value/],
    [["--help=yes", "--", "x"], /--help takes no value/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseNetlabOptions(args, {}), (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.match(error.message, message);
      assert.ok(!error.message.includes("\n"));
      return true;
    });
  }
});

Deno.test("netlab options: --help wins over errors and needs no command", () => {
  assert.equal(parseNetlabOptions(["--bogus", "-h"], {}).help, true);
  assert.match(NETLAB_HELP, /Usage: main.ts netlab \[options\] -- <client command/);
  assert.match(NETLAB_HELP, /\{server_ip\}/);
});

Deno.test("netlab options: {server_ip} is replaced in every argument", () => {
  assert.deepEqual(
    substituteServerIp(["c", "{server_ip}", "https://{server_ip}:1/{server_ip}"], "198.18.3.1"),
    ["c", "198.18.3.1", "https://198.18.3.1:1/198.18.3.1"],
  );
});

Deno.test("loopbackTarget: localhost and 127/8 are DNATed to, other hosts are reached directly", () => {
  assert.equal(loopbackTarget(new URL("https://localhost:9443")), "127.0.0.1");
  assert.equal(loopbackTarget(new URL("https://127.0.0.2:9443")), "127.0.0.2");
  assert.equal(loopbackTarget(new URL("https://example.test:9443")), undefined);
  assert.throws(() => loopbackTarget(new URL("https://[::1]:9443")), ConfigError);
});
