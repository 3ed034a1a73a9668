/**
 * The limits our server runs with when a benchmark drives the lab with many connections
 * (`server_entry.ts`, `detection_ab.ts`, `detection_tail.ts`).
 *
 * The migration benchmarks move many connections through one admin connection, far above the
 * default 5 mutating requests per second per connection that protects a public server. Their
 * clients all come from 127.0.0.1, through the lab relay too: the relay's per-address and total
 * session caps, which keep one public client from taking the lab, would evict them.
 * @module
 */

import type { ServerLimits } from "../../lib/limits.ts";

/** What the lab-driving benchmarks lift; every other limit keeps its default. */
export const LAB_LOAD_LIMITS: Readonly<Partial<ServerLimits>> = Object.freeze({
  mutatingRequestsPerSecond: 10_000,
  labMaxSessions: 65_536,
  labMaxSessionsPerAddress: 65_536,
});
