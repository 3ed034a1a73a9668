/**
 * Option entries for the resource limits (`lib/limits.ts`) and the dashboard's visibility,
 * appended to the main option table in `cli_options.ts`.
 * @module
 */

import type { ServerLimits } from "./limits.ts";
import {
  ConfigError,
  type OptionSpec,
  parseBoundedInt,
  quote,
  type ServerConfig,
} from "./cli_options.ts";

/** Who may see other clients' connections through the API and the event stream. */
export type DashboardVisibility = "on" | "off" | "localhost";

/** One integer limit: flag, variable, bounds, and the field it sets. */
function limitSpec(
  flag: string,
  envVar: string,
  field: keyof ServerLimits,
  description: string,
  min: number,
  max: number,
  defaultText: string,
): OptionSpec {
  return {
    flag,
    envVar,
    valueName: "N",
    description: `${description} (${min}-${max})`,
    defaultText,
    apply(config: ServerConfig, value: string, source: string) {
      config.limits[field] = parseBoundedInt(value, source, min, max, "an integer");
    },
  };
}

/** The limit options, in help order. */
export const LIMIT_OPTION_SPECS: readonly OptionSpec[] = [
  limitSpec(
    "--max-connections",
    "QUIC_MAX_CONNECTIONS",
    "maxConnections",
    "open QUIC connections at once; more are refused (TCP counted apart)",
    1,
    1_000_000,
    "10000",
  ),
  limitSpec(
    "--max-streams",
    "QUIC_MAX_STREAMS",
    "maxStreamsPerConnection",
    "concurrent request streams per QUIC connection",
    1,
    100_000,
    "256",
  ),
  limitSpec(
    "--max-field-section",
    "QUIC_MAX_FIELD_SECTION",
    "maxFieldSectionSize",
    "largest request header section in bytes; more gets 431",
    1024,
    1024 * 1024,
    "16384",
  ),
  limitSpec(
    "--max-body",
    "QUIC_MAX_BODY",
    "maxBodyBytes",
    "largest request body in bytes; more gets 413",
    0,
    Number.MAX_SAFE_INTEGER,
    "67108864 (64 MiB)",
  ),
  limitSpec(
    "--mutating-rps",
    "QUIC_MUTATING_RPS",
    "mutatingRequestsPerSecond",
    "requests per second per connection to mutating endpoints; more gets 429",
    1,
    10_000,
    "5",
  ),
  limitSpec(
    "--header-timeout",
    "QUIC_HEADER_TIMEOUT",
    "headerTimeoutMs",
    "ms for a request head: an HTTP/3 stream then gets 408, an idle TCP connection is closed",
    100,
    600_000,
    "10000",
  ),
  limitSpec(
    "--lab-max-sessions",
    "QUIC_LAB_MAX_SESSIONS",
    "labMaxSessions",
    "concurrent client sessions in the migration lab's relay",
    1,
    65_536,
    "1024",
  ),
  {
    flag: "--public-dashboard",
    envVar: "QUIC_PUBLIC_DASHBOARD",
    valueName: "on|off|localhost",
    description:
      "who sees other clients' connections in the API and events: everyone (on), only admin-token holders (off), or loopback clients (localhost); the rest see only their own",
    defaultText: "localhost",
    apply(config, value, source) {
      if (value !== "on" && value !== "off" && value !== "localhost") {
        throw new ConfigError(`${source}: ${quote(value)} is not on, off or localhost`);
      }
      config.publicDashboard = value;
    },
  },
];
