/**
 * Who may see other clients' connections (`--public-dashboard`). The API and the event stream
 * show a client everything, or only the connection its request arrived on:
 * - `on`: everyone sees everything;
 * - `localhost` (default): clients on a loopback address see everything;
 * - `off`: only requests with the admin token see everything.
 * A request with the admin token always sees everything. For a connection that came through
 * the migration lab's relay, the address that counts is the client's, not the relay's.
 * @module
 */

import type { Context } from "hono";
import type { MigrationLab } from "../lab/lab.ts";
import type { AppEnv } from "../connection_env.ts";
import { hasAdminToken } from "./admin_token.ts";

/** Who may see other clients' connections: everyone, admin-token holders, or loopback clients. */
export type DashboardVisibility = "on" | "off" | "localhost";

/** True for `127.x.x.x`, `::1` and IPv4-mapped loopback, with or without a port. */
export function isLoopbackAddr(addr: string): boolean {
  // `[v6]:port`, a bare IPv6 address (more than one colon), or `v4` / `v4:port`.
  const host = addr.startsWith("[")
    ? addr.slice(1, addr.indexOf("]"))
    : addr.indexOf(":") !== addr.lastIndexOf(":")
    ? addr
    : addr.split(":")[0];
  return host.startsWith("127.") || host === "::1" || host.startsWith("::ffff:127.");
}

/** Decides, per request, whether other clients' connections are visible. */
export class Visibility {
  /**
   * @param mode the `--public-dashboard` setting
   * @param adminToken the token that always sees everything
   * @param lab the migration lab, to find a relayed client's real address
   */
  constructor(
    readonly mode: DashboardVisibility,
    private readonly adminToken?: string,
    private readonly lab?: () => MigrationLab | undefined,
  ) {}

  /** True when the request may see every connection, false for its own only. */
  seesAll(c: Context<AppEnv>): boolean {
    if (this.mode === "on") return true;
    if (hasAdminToken(c.req.header("authorization"), this.adminToken)) return true;
    if (this.mode === "off") return false;
    const conn = c.env.connection;
    const session = this.lab?.()?.sessionFor(conn);
    return isLoopbackAddr(session?.key ?? c.env.remoteAddr());
  }

  /** The sentence a restricted client gets, so the limited view is never a silent one. */
  static readonly OWN_ONLY_NOTE =
    "this client sees only its own connection (the server runs with --public-dashboard " +
    "localhost or off); an admin token or --public-dashboard on shows every connection";
}
