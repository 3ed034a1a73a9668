/**
 * What a listener hands the Hono app with each request (as `c.env`): the tracked connection
 * the request arrived on and a way to read the peer's current address.
 * @module
 */

import type { TrackedConnection } from "./tracker/tracker.ts";

/** Per-connection context, created once per connection, not per request. */
export interface ConnectionEnv {
  /** The tracker's record of the connection carrying this request. */
  readonly connection: TrackedConnection;
  /** The peer's address right now, `ip:port`. For QUIC it is live and changes on migration. */
  remoteAddr(): string;
}

/** Hono's environment type for this app. */
export type AppEnv = { Bindings: ConnectionEnv };
