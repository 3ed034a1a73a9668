/** `migrate`'s options: defaults, the lab URL taken apart, flags over environment. */

import { strict as assert } from "node:assert";
import { ConfigError } from "../cli/config.ts";
import { parseLabUrl, parseMigrateOptions } from "./options.ts";

Deno.test("migrate options: defaults", () => {
  const options = parseMigrateOptions([], {});
  assert.deepEqual(options.target, {
    url: "https://localhost:9444/",
    hostname: "localhost",
    serverName: "localhost",
    port: 9444,
    pathBase: "",
  });
  assert.equal(options.migrations, 10);
  assert.equal(options.kind, "mixed");
  assert.equal(options.intervalMs, 500);
  assert.equal(options.concurrency, 1);
  assert.equal(options.caPath, undefined);
  assert.equal(options.dataDir, ".data");
  assert.equal(options.adminToken, undefined);
});

Deno.test("migrate options: the lab URL gives host, port and path base", () => {
  assert.deepEqual(parseLabUrl("https://[::1]:8444/lab/", "--url"), {
    url: "https://[::1]:8444/lab/",
    hostname: "::1",
    serverName: "::1",
    port: 8444,
    pathBase: "/lab",
  });
  assert.equal(parseLabUrl("https://example.test", "--url").port, 443);
  assert.throws(() => parseLabUrl("https://localhost:9444/?x=1", "--url"), ConfigError);
});

Deno.test("migrate options: the command line wins over the environment", () => {
  const env = { QUIC_ADMIN_TOKEN: "from-env", QUIC_DATA_DIR: "/env-data" };
  const fromEnv = parseMigrateOptions([], env);
  assert.equal(fromEnv.adminToken, "from-env");
  assert.equal(fromEnv.adminTokenSource, "QUIC_ADMIN_TOKEN");
  assert.equal(fromEnv.dataDir, "/env-data");
  const fromFlags = parseMigrateOptions(["--admin-token=flag", "--data-dir", "d"], env);
  assert.equal(fromFlags.adminToken, "flag");
  assert.equal(fromFlags.adminTokenSource, "--admin-token");
  assert.equal(fromFlags.dataDir, "d");
  const empty = parseMigrateOptions([], { QUIC_ADMIN_TOKEN: "" });
  assert.equal(empty.adminToken, undefined, "an empty variable counts as unset");
});

Deno.test("migrate options: --help wins and skips checks", () => {
  assert.equal(parseMigrateOptions(["--migrations", "0", "--bogus", "-h"], {}).help, true);
});
