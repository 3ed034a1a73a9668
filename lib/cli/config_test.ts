import { strict as assert } from "node:assert";
import {
  ConfigError,
  DEFAULT_HOST,
  defaultConfig,
  HELP,
  parseConfig,
  type ServerConfig,
} from "./config.ts";

/** Asserts that parsing throws a one-line ConfigError matching every pattern. */
function assertConfigError(
  args: string[],
  env: Record<string, string | undefined>,
  ...patterns: RegExp[]
): void {
  let caught: unknown;
  try {
    parseConfig(args, env);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `expected ConfigError for ${JSON.stringify(args)}`);
  assert.ok(!caught.message.includes("\n"), `message is one line: ${caught.message}`);
  for (const pattern of patterns) assert.match(caught.message, pattern);
}

Deno.test("defaults with nothing given", () => {
  const config = parseConfig([], {});
  assert.deepEqual(config, defaultConfig());
  assert.equal(config.host, "::");
  assert.equal(DEFAULT_HOST, "::");
  assert.equal(config.port, 9443);
  assert.equal(config.labPort, 9444);
  assert.equal(config.certPath, undefined);
  assert.equal(config.keyPath, undefined);
  assert.equal(config.dataDir, ".data");
  assert.equal(config.adminToken, undefined);
  assert.equal(config.logFormat, "text");
  assert.equal(config.help, false);
});

/** Each option: flag, env var, a valid raw value, and the expected config fields. */
const OPTION_CASES: {
  flag: string;
  envVar: string;
  value: string;
  expected: Partial<ServerConfig>;
}[] = [
  { flag: "--host", envVar: "QUIC_HOST", value: "127.0.0.1", expected: { host: "127.0.0.1" } },
  { flag: "--port", envVar: "QUIC_PORT", value: "8443", expected: { port: 8443 } },
  { flag: "--lab-port", envVar: "QUIC_LAB_PORT", value: "8444", expected: { labPort: 8444 } },
  { flag: "--lab-host", envVar: "QUIC_LAB_HOST", value: "::", expected: { labHost: "::" } },
  { flag: "--data-dir", envVar: "QUIC_DATA_DIR", value: "/var/x", expected: { dataDir: "/var/x" } },
  {
    flag: "--admin-token",
    envVar: "QUIC_ADMIN_TOKEN",
    value: "s3cret-_token",
    expected: { adminToken: "s3cret-_token" },
  },
  {
    flag: "--log-format",
    envVar: "QUIC_LOG_FORMAT",
    value: "json",
    expected: { logFormat: "json" },
  },
  {
    flag: "--public-dashboard",
    envVar: "QUIC_PUBLIC_DASHBOARD",
    value: "off",
    expected: { publicDashboard: "off" },
  },
];

for (const { flag, envVar, value, expected } of OPTION_CASES) {
  Deno.test(`${flag} via "--opt value", "--opt=value" and ${envVar}`, () => {
    const want = { ...defaultConfig(), ...expected };
    assert.deepEqual(parseConfig([flag, value], {}), want);
    assert.deepEqual(parseConfig([`${flag}=${value}`], {}), want);
    assert.deepEqual(parseConfig([], { [envVar]: value }), want);
  });
}

Deno.test("--cert and --key together via flags, = form, and env", () => {
  const want = { ...defaultConfig(), certPath: "c.pem", keyPath: "k.pem" };
  assert.deepEqual(parseConfig(["--cert", "c.pem", "--key", "k.pem"], {}), want);
  assert.deepEqual(parseConfig(["--cert=c.pem", "--key=k.pem"], {}), want);
  assert.deepEqual(parseConfig([], { QUIC_CERT: "c.pem", QUIC_KEY: "k.pem" }), want);
  // One from each source is fine too.
  assert.deepEqual(parseConfig(["--cert", "c.pem"], { QUIC_KEY: "k.pem" }), want);
});

Deno.test("command line wins over environment", () => {
  const config = parseConfig(
    [
      "--host=::1",
      "--port",
      "1000",
      "--lab-port=1001",
      "--cert",
      "flag-c.pem",
      "--key",
      "flag-k.pem",
      "--data-dir",
      "flag-dir",
      "--admin-token",
      "flag-token",
      "--log-format",
      "text",
      "--watch-interval",
      "20",
    ],
    {
      QUIC_HOST: "127.0.0.1",
      QUIC_PORT: "2000",
      QUIC_LAB_PORT: "2001",
      QUIC_CERT: "env-c.pem",
      QUIC_KEY: "env-k.pem",
      QUIC_DATA_DIR: "env-dir",
      QUIC_ADMIN_TOKEN: "env-token",
      QUIC_LOG_FORMAT: "json",
      QUIC_WATCH_INTERVAL: "200",
    },
  );
  assert.deepEqual(config, {
    host: "::1",
    port: 1000,
    labPort: 1001,
    labHost: "localhost",
    certPath: "flag-c.pem",
    keyPath: "flag-k.pem",
    dataDir: "flag-dir",
    adminToken: "flag-token",
    logFormat: "text",
    watchIntervalMs: 20,
    watchQuietIntervalMs: 500,
    closedTtlSeconds: 3600,
    maxClosed: 10_000,
    tcpHttp2: false,
    limits: defaultConfig().limits,
    publicDashboard: "localhost",
    persist: true,
    persistIntervalMs: 200,
    cluster: { preferredAddress: "auto" },
    help: false,
  });
});

Deno.test("a bad env value overridden by a flag is not an error; empty env counts as unset", () => {
  assert.equal(parseConfig(["--port", "7000"], { QUIC_PORT: "nope" }).port, 7000);
  assert.equal(parseConfig([], { QUIC_PORT: "" }).port, 9443);
  assert.equal(parseConfig([], { QUIC_ADMIN_TOKEN: "" }).adminToken, undefined);
});

Deno.test("the last repetition of a flag wins; bracketed IPv6 host is unwrapped", () => {
  assert.equal(parseConfig(["--port", "1", "--port=2"], {}).port, 2);
  assert.equal(parseConfig(["--host", "[::1]"], {}).host, "::1");
  assert.equal(parseConfig(["--lab-host", "[::1]"], {}).labHost, "::1");
});

Deno.test("a value may start with a single dash; a value containing '=' is kept whole", () => {
  assert.equal(parseConfig(["--admin-token", "-abc"], {}).adminToken, "-abc");
  assert.equal(parseConfig(["--admin-token=a=b="], {}).adminToken, "a=b=");
});

Deno.test("--help and -h win over everything, including errors", () => {
  assert.equal(parseConfig(["--help"], {}).help, true);
  assert.equal(parseConfig(["-h"], {}).help, true);
  assert.deepEqual(parseConfig(["--port", "0", "--bogus", "-h"], { QUIC_PORT: "x" }), {
    ...defaultConfig(),
    help: true,
  });
});

Deno.test("HELP names every flag and environment variable", () => {
  for (const { flag, envVar } of OPTION_CASES) {
    assert.ok(HELP.includes(flag), flag);
    assert.ok(HELP.includes(envVar), envVar);
  }
  for (const word of ["--cert", "QUIC_CERT", "--key", "QUIC_KEY", "--help", "-h"]) {
    assert.ok(HELP.includes(word), word);
  }
});

Deno.test("error: unknown option and stray argument", () => {
  assertConfigError(["--bogus"], {}, /unknown option "--bogus"/);
  assertConfigError(["--bogus=1"], {}, /unknown option "--bogus"/);
  assertConfigError(["-x"], {}, /unknown option "-x"/);
  assertConfigError(["stray"], {}, /unexpected argument "stray"/);
  assertConfigError(["--help=yes"], {}, /--help takes no value/);
});

Deno.test("error: bad port, via flag and via env, names the source and the value", () => {
  for (const bad of ["0", "65536", "-1", "abc", "80.5", "1e3", " 80", "999999"]) {
    assertConfigError(["--port", bad], {}, /^--port: /, new RegExp(JSON.stringify(bad)));
    assertConfigError([`--lab-port=${bad}`], {}, /^--lab-port: /, /1 to 65535/);
    assertConfigError([], { QUIC_PORT: bad }, /^QUIC_PORT: /);
    assertConfigError([], { QUIC_LAB_PORT: bad }, /^QUIC_LAB_PORT: /);
  }
  assert.equal(parseConfig(["--port", "1", "--lab-port", "65535"], {}).labPort, 65535);
});

Deno.test("error: missing value, at the end, before another flag, or empty after '='", () => {
  for (const flag of OPTION_CASES.map((c) => c.flag).concat("--cert", "--key")) {
    assertConfigError([flag], {}, new RegExp(`^${flag} needs a value`));
    assertConfigError([flag, "--port", "1"], {}, new RegExp(`^${flag} needs a value`));
    assertConfigError([`${flag}=`], {}, new RegExp(`^${flag} needs a value`));
  }
});

Deno.test("error: bad log format via flag and env", () => {
  assertConfigError(["--log-format", "xml"], {}, /^--log-format: "xml" is not a log format/);
  assertConfigError([], { QUIC_LOG_FORMAT: "JSON" }, /^QUIC_LOG_FORMAT: "JSON"/);
});

Deno.test("error: bad host", () => {
  assertConfigError(["--host", "a b"], {}, /^--host: "a b" is not a host/);
  assertConfigError(["--host", "[]"], {}, /^--host: "\[\]"/);
  assertConfigError([], { QUIC_LAB_HOST: "a b" }, /^QUIC_LAB_HOST: "a b" is not a host/);
});

Deno.test("error: only one of --cert / --key", () => {
  assertConfigError(["--cert", "c.pem"], {}, /--cert "c.pem" given without --key/);
  assertConfigError(["--key=k.pem"], {}, /--key "k.pem" given without --cert/);
  assertConfigError([], { QUIC_CERT: "c.pem" }, /QUIC_CERT "c.pem" given without --key/);
  assertConfigError([], { QUIC_KEY: "k.pem" }, /QUIC_KEY "k.pem" given without --cert/);
});

Deno.test("error: --lab-port equal to --port, naming where each came from", () => {
  assertConfigError(["--lab-port", "9443"], {}, /--lab-port 9443 must differ from --port 9443/);
  assertConfigError(["--port", "9444"], {}, /--lab-port 9444 must differ from --port 9444/);
  assertConfigError([], { QUIC_PORT: "5", QUIC_LAB_PORT: "5" }, /QUIC_LAB_PORT 5 .* QUIC_PORT 5/);
});

Deno.test("the first of several errors is reported", () => {
  assertConfigError(["--bogus", "--port", "x"], {}, /unknown option "--bogus"/);
});

/** The named variables of this process's environment that are set. */
function inherited(...names: string[]): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of names) {
    const value = Deno.env.get(name);
    if (value !== undefined) picked[name] = value;
  }
  return picked;
}

/** Runs configOrExit in a child Deno and returns its exit code and output. */
async function runConfigOrExit(args: string[], env: Record<string, string> = {}) {
  const moduleUrl = new URL("./config.ts", import.meta.url).href;
  const script = `import { configOrExit } from ${JSON.stringify(moduleUrl)};\n` +
    `console.log(JSON.stringify(configOrExit(Deno.args, Deno.env.toObject())));`;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", script, ...args],
    // Only what Deno itself needs, so QUIC_* variables of the test run don't leak in.
    env: { ...inherited("HOME", "DENO_DIR", "PATH"), NO_COLOR: "1", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("configOrExit: bad input prints one 'error:' line and exits 2", async () => {
  const result = await runConfigOrExit(["--port", "nope"]);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, "");
  assert.equal(
    result.stderr,
    'error: --port: "nope" is not a port (an integer from 1 to 65535) (see --help)\n',
  );
});

Deno.test("configOrExit: --help prints HELP and exits 0", async () => {
  const result = await runConfigOrExit(["--help"]);
  assert.equal(result.code, 0);
  assert.equal(result.stdout, `${HELP}\n`);
  assert.equal(result.stderr, "");
});

Deno.test("configOrExit: good input returns the config", async () => {
  const result = await runConfigOrExit(["--port=7443"], { QUIC_LOG_FORMAT: "json" });
  assert.equal(result.code, 0, result.stderr);
  const config = JSON.parse(result.stdout);
  assert.equal(config.port, 7443);
  assert.equal(config.logFormat, "json");
});

Deno.test("--watch-quiet-interval: flag, environment, default, and bounds", () => {
  assert.equal(parseConfig(["--watch-quiet-interval", "1000"], {}).watchQuietIntervalMs, 1000);
  const fromEnv = parseConfig([], { QUIC_WATCH_QUIET_INTERVAL: "50" });
  assert.equal(fromEnv.watchQuietIntervalMs, 50);
  assert.equal(parseConfig([], {}).watchQuietIntervalMs, 500);
  assert.throws(() => parseConfig(["--watch-quiet-interval", "60001"], {}), /60001/);
  assert.throws(() => parseConfig(["--watch-quiet-interval=x"], {}), /not an interval/);
});

Deno.test("--watch-interval: flag, environment, and bounds", () => {
  assert.equal(parseConfig(["--watch-interval", "5"], {}).watchIntervalMs, 5);
  assert.equal(parseConfig([], { QUIC_WATCH_INTERVAL: "250" }).watchIntervalMs, 250);
  assert.equal(parseConfig([], {}).watchIntervalMs, 50);
  assert.throws(() => parseConfig(["--watch-interval", "0"], {}), /--watch-interval: "0"/);
  assert.throws(() => parseConfig(["--watch-interval=1.5"], {}), /not an interval/);
  assert.throws(() => parseConfig([], { QUIC_WATCH_INTERVAL: "99999" }), /QUIC_WATCH_INTERVAL/);
});

Deno.test("--persist and --persist-interval: flag, environment, and bounds", () => {
  assert.equal(parseConfig([], {}).persist, true);
  assert.equal(parseConfig(["--persist=false"], {}).persist, false);
  assert.equal(parseConfig([], { QUIC_PERSIST: "false" }).persist, false);
  assert.throws(() => parseConfig(["--persist", "no"], {}), /--persist: "no" is not true or false/);
  assert.equal(parseConfig(["--persist-interval", "1000"], {}).persistIntervalMs, 1000);
  assert.equal(parseConfig([], { QUIC_PERSIST_INTERVAL: "50" }).persistIntervalMs, 50);
  assert.throws(() => parseConfig(["--persist-interval", "0"], {}), /--persist-interval: "0"/);
});

Deno.test("--closed-ttl and --max-closed: flag, environment, and bounds", () => {
  const config = parseConfig(["--closed-ttl", "60"], { QUIC_MAX_CLOSED: "5" });
  assert.equal(config.closedTtlSeconds, 60);
  assert.equal(config.maxClosed, 5);
  assert.throws(() => parseConfig(["--closed-ttl", "x"], {}), /--closed-ttl: "x"/);
  assert.throws(() => parseConfig(["--max-closed=1000001"], {}), /--max-closed/);
});

Deno.test("limit options set their limit, keep the others, and refuse values out of range", () => {
  const config = parseConfig(
    ["--max-connections", "50", "--max-streams=8", "--header-timeout", "500"],
    { QUIC_MUTATING_RPS: "2", QUIC_MAX_BODY: "1024", QUIC_LAB_MAX_SESSIONS: "3" },
  );
  assert.deepEqual(config.limits, {
    ...defaultConfig().limits,
    maxConnections: 50,
    maxStreamsPerConnection: 8,
    headerTimeoutMs: 500,
    mutatingRequestsPerSecond: 2,
    maxBodyBytes: 1024,
    labMaxSessions: 3,
  });
  assert.throws(
    () => parseConfig(["--max-field-section", "100"], {}),
    /--max-field-section: "100" is not an integer from 1024 to 1048576/,
  );
  assert.throws(() => parseConfig(["--max-connections", "0"], {}), /--max-connections/);
  assert.throws(() => parseConfig(["--public-dashboard", "yes"], {}), /not on, off or localhost/);
  assert.match(HELP, /--max-connections N/);
  assert.match(HELP, /QUIC_PUBLIC_DASHBOARD/);
});

Deno.test("a leading -- (as `deno task start -- …` passes it) is skipped; anywhere else it is an error", () => {
  assert.equal(parseConfig(["--", "--port", "8443"], {}).port, 8443);
  assert.equal(parseConfig(["--"], {}).port, defaultConfig().port);
  assert.throws(() => parseConfig(["--port", "8443", "--"], {}), ConfigError);
});
