/**
 * Command-line options of `netlab` (`deno task netlab [options] -- <client command>`), sans-IO.
 *
 * Flags take `--opt value` or `--opt=value`, as the server's and `migrate`'s do; everything after
 * `--` is the client command. A bad value throws a {@link ConfigError} whose message is one line.
 *
 * ```ts
 * const options = parseNetlabOptions(
 *   ["--events", "1s:rebind,2s:switch", "--", "gtlsclient", "{server_ip}", "9443"],
 *   Deno.env.toObject(),
 * );
 * options.command; // ["gtlsclient", "{server_ip}", "9443"]
 * ```
 * @module
 */

import { SERVER_TOOL_ENV_FLAGS } from "../cli/tool_io.ts";
import { ConfigError, parseBoundedInt, parseHttpsUrl, quote } from "../cli/server_config.ts";
import { scanFlags } from "../cli/flag_scanner.ts";
import { type NetEvent, parseDuration, parseEventList, type PeriodicEvent } from "./events.ts";
import type { Uplink } from "./topology.ts";

/** Everything `netlab` is configured with. Files are named, not yet read. */
export interface NetlabOptions {
  /** The server under test, as given (`https://localhost:9443`). */
  server: URL;
  events: NetEvent[];
  periodic: PeriodicEvent[];
  initialUplink: Uplink;
  /** `tc tbf` rate on the client's uplinks (`40mbit`), or undefined. */
  rate?: string;
  /** Addresses the server gets on the internet segment, 1–16. */
  serverIps: number;
  /** PEM file to trust for the API; undefined means `<data-dir>/certs/ca.pem` if present. */
  caPath?: string;
  dataDir: string;
  adminToken?: string;
  /** Stop the client after this long (0: never). */
  timeoutMs: number;
  /** How long to wait, after the client ended, for the server to settle its migrations. */
  settleMs: number;
  /** Where to write the report as JSON, if anywhere. */
  reportJson?: string;
  /** The client command and its arguments (`{server_ip}` not yet replaced). */
  command: string[];
  help: boolean;
}

/** The server a started-as-usual `deno task start` listens on. */
export const DEFAULT_SERVER = "https://localhost:9443";

/** Usage text for `netlab --help`. */
export const NETLAB_HELP: string = [
  "Runs a client program, unmodified, behind real NATs (Linux namespaces, nftables masquerade)",
  "with two uplinks, wifi and cellular; switches and rebinds its network on a schedule; then",
  "compares what the server observed with what happened. Needs root (CAP_NET_ADMIN) and",
  "iproute2, nftables and conntrack.",
  "",
  "Usage: main.ts netlab [options] -- <client command and its arguments>",
  "       (deno task netlab …, quic-server netlab …)",
  "",
  "In the client command, {server_ip} is the server's address on the lab's internet segment",
  "(also in $NETLAB_SERVER_IP; all of them, comma-separated, in $NETLAB_SERVER_IPS).",
  "",
  "Options:",
  `  --server URL         the server under test (default: ${DEFAULT_SERVER})`,
  "  --events LIST        TIME:EVENT,… with EVENT switch, rebind or blackout:DURATION,",
  "                       e.g. 1s:rebind,2s:switch,3s:blackout:500ms (times from the client's start)",
  "  --rebind-every DUR   rebind the NAT mapping every DUR (e.g. 2s)",
  "  --switch-every DUR   switch uplinks every DUR",
  "  --start-on UPLINK    wifi or cellular (default: wifi)",
  "  --rate RATE          limit each uplink to RATE (tc tbf, e.g. 40mbit)",
  "  --server-ips N       addresses for servers on the internet segment, 1-16 (default: 1)",
  "  --timeout DUR        stop the client after DUR (default: never)",
  "  --settle DUR         after the client ends, wait up to DUR for the server to settle",
  "                       its migrations (default: 5s)",
  "  --ca FILE            PEM certificate(s) to trust for the server's API",
  "                       (default: <data-dir>/certs/ca.pem if present)",
  "  --data-dir DIR       the server's data directory (default: .data; env: QUIC_DATA_DIR)",
  "  --admin-token TOKEN  to see every connection in the API (env: QUIC_ADMIN_TOKEN;",
  "                       default: <data-dir>/admin-token if present)",
  "  --report-json FILE   also write the report as JSON to FILE",
  "  -h, --help           show this help and exit",
  "",
  "Exit code: 0 when every event that carried traffic was seen by the server exactly once,",
  "with the expected kind and outcome, nothing else was recorded and the client succeeded;",
  "1 otherwise; 2 for bad arguments or without root; 130/143 on Ctrl-C/SIGTERM.",
].join("\n");

type Apply = (options: NetlabOptions, value: string, source: string) => void;

const APPLY: Readonly<Record<string, Apply>> = {
  "--server": (options, value, source) => {
    options.server = parseServerUrl(value, source);
    loopbackTarget(options.server);
  },
  "--events": (options, value, source) => options.events.push(...parseEventList(value, source)),
  "--rebind-every": (options, value, source) =>
    options.periodic.push({ kind: "rebind", everyMs: positiveDuration(value, source) }),
  "--switch-every": (options, value, source) =>
    options.periodic.push({ kind: "switch", everyMs: positiveDuration(value, source) }),
  "--start-on": (options, value, source) => {
    if (value !== "wifi" && value !== "cellular") {
      throw new ConfigError(`${source}: ${quote(value)} is not an uplink (wifi or cellular)`);
    }
    options.initialUplink = value;
  },
  "--rate": (options, value, source) => {
    if (!/^\d+(?:\.\d+)?(?:kbit|mbit|gbit)$/.test(value)) {
      throw new ConfigError(`${source}: ${quote(value)} is not a rate (e.g. 500kbit, 40mbit)`);
    }
    options.rate = value;
  },
  "--server-ips": (
    options,
    value,
    source,
  ) => (options.serverIps = parseBoundedInt(value, source, 1, 16, "a number of addresses")),
  "--timeout": (options, value, source) => (options.timeoutMs = parseDuration(value, source)),
  "--settle": (options, value, source) => (options.settleMs = parseDuration(value, source)),
  "--ca": (options, value) => (options.caPath = value),
  "--data-dir": (options, value) => (options.dataDir = value),
  "--admin-token": (options, value) => (options.adminToken = value),
  "--report-json": (options, value) => (options.reportJson = value),
};

/**
 * Builds `netlab`'s options from its arguments (after `netlab`) and the environment. With
 * `--help`/`-h` before `--`, returns defaults with `help: true` and reports no error.
 *
 * @throws {ConfigError} for an unknown option, a missing or bad value, or no client command.
 */
export function parseNetlabOptions(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): NetlabOptions {
  const options: NetlabOptions = {
    server: new URL(DEFAULT_SERVER),
    events: [],
    periodic: [],
    initialUplink: "wifi",
    serverIps: 1,
    dataDir: ".data",
    timeoutMs: 0,
    settleMs: 5000,
    command: [],
    help: false,
  };
  const separator = args.indexOf("--");
  const flags = separator === -1 ? args : args.slice(0, separator);
  options.command = separator === -1 ? [] : args.slice(separator + 1);
  const scan = scanFlags(flags, env, {
    isFlag: (name) => name in APPLY,
    envFlags: SERVER_TOOL_ENV_FLAGS,
    strayHint: " (put the client command after --)",
  });
  options.help = scan.help;
  if (options.help) return options;
  if (scan.error) throw scan.error;
  for (const { flag, value, source } of scan.given) APPLY[flag](options, value, source);
  if (options.command.length === 0) {
    throw new ConfigError(
      "no client command: give it after --, e.g. -- gtlsclient {server_ip} 9443",
    );
  }
  return options;
}

/**
 * The client command with `{server_ip}` replaced in every argument.
 */
export function substituteServerIp(command: readonly string[], serverIp: string): string[] {
  return command.map((argument) => argument.replaceAll("{server_ip}", serverIp));
}

/** Takes `--server`: an `https://host:port` URL without path, query or credentials. */
export function parseServerUrl(value: string, source: string): URL {
  return parseHttpsUrl(value, source);
}

/**
 * The loopback address to DNAT the lab's server address to, when the server is on loopback
 * (`localhost`, `127.x.y.z`); undefined when it is not (it must then listen on all addresses).
 * @throws {ConfigError} for IPv6 loopback, which an IPv4 lab cannot reach.
 */
export function loopbackTarget(server: URL): string | undefined {
  const host = server.hostname;
  if (host === "localhost") return "127.0.0.1";
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) return host;
  if (host === "[::1]") {
    throw new ConfigError(
      "--server: the lab is IPv4; use https://localhost:PORT or 127.0.0.1 for a server on ::1",
    );
  }
  return undefined;
}

function positiveDuration(value: string, source: string): number {
  const ms = parseDuration(value, source);
  if (ms === 0) throw new ConfigError(`${source}: ${quote(value)} must be longer than 0`);
  return ms;
}
