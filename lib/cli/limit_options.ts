/**
 * Option entries for the resource limits, built from their definitions in `lib/limits.ts`
 * (flag, variable, range, default and help all come from there), and the dashboard's
 * visibility; appended to the main option table in `options.ts`.
 * @module
 */

import { LIMIT_DEFINITIONS, type LimitDefinition } from "../limits.ts";
import { ConfigError, type OptionSpec, parseBoundedInt, quote } from "./server_config.ts";

/** The option for one limit. */
function limitSpec(limit: LimitDefinition): OptionSpec {
  return {
    flag: limit.flag,
    envVar: limit.envVar,
    valueName: "N",
    description: `${limit.description} (${limit.min}-${limit.max})`,
    defaultText: String(limit.defaultValue) +
      (limit.defaultNote === undefined ? "" : ` (${limit.defaultNote})`),
    apply(config, value, source) {
      config.limits[limit.field] = parseBoundedInt(
        value,
        source,
        limit.min,
        limit.max,
        "an integer",
      );
    },
  };
}

/** The limit options, in help order, then `--public-dashboard`. */
export const LIMIT_OPTION_SPECS: readonly OptionSpec[] = [
  ...LIMIT_DEFINITIONS.map(limitSpec),
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
