/**
 * The network lab's events and their schedule (sans-IO): `switch` (to the other uplink),
 * `rebind` (the NAT forgets the client's mapping) and `blackout` (the uplink drops everything
 * for a while), given as `--events 1s:rebind,2s:switch,3s:blackout:500ms` and/or repeated with
 * `--rebind-every 2s` / `--switch-every 5s`.
 *
 * ```ts
 * const schedule = parseEventList("1s:rebind,2.5s:switch", "--events");
 * [...timeline({ events: schedule, periodic: [] })]; // in time order
 * ```
 * @module
 */

import { ConfigError } from "../cli/server_config.ts";

/** What happens to the client's network. */
export type NetEventKind = "switch" | "rebind" | "blackout";

/** One event at a time after the client started. */
export interface NetEvent {
  kind: NetEventKind;
  /** Milliseconds after the client command started. */
  atMs: number;
  /** For a blackout: how long the uplink drops everything. */
  durationMs?: number;
}

/** An event repeated every `everyMs`, first at `everyMs`. */
export interface PeriodicEvent {
  kind: "switch" | "rebind";
  everyMs: number;
}

/** All events a run performs. */
export interface Schedule {
  events: NetEvent[];
  periodic: PeriodicEvent[];
}

/** The most events one run performs (a bound for periodic schedules). */
export const MAX_EVENTS = 10_000;
/** The longest time or duration accepted anywhere in a schedule: one day. */
export const MAX_DURATION_MS = 24 * 3600 * 1000;

/**
 * Parses a duration: `500` or `500ms` (milliseconds), `1.5s`, `2m`.
 * @throws {ConfigError} for anything else, or more than a day.
 */
export function parseDuration(value: string, source: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (match === null) {
    throw new ConfigError(`${source}: ${JSON.stringify(value)} is not a duration (500ms, 2s, 1m)`);
  }
  const scale = match[2] === "s" ? 1000 : match[2] === "m" ? 60_000 : 1;
  const ms = Math.round(Number(match[1]) * scale);
  if (ms > MAX_DURATION_MS) {
    throw new ConfigError(`${source}: ${JSON.stringify(value)} is longer than a day`);
  }
  return ms;
}

/**
 * Parses `TIME:KIND[:DURATION],…`, e.g. `1s:rebind,2s:switch,3s:blackout:500ms`; a blackout
 * needs its duration, the others take none.
 * @throws {ConfigError} naming the entry at fault.
 */
export function parseEventList(value: string, source: string): NetEvent[] {
  const events: NetEvent[] = [];
  for (const entry of value.split(",")) {
    const parts = entry.trim().split(":");
    const where = `${source}: ${JSON.stringify(entry.trim())}`;
    if (parts.length < 2 || parts.length > 3) {
      throw new ConfigError(`${where} is not TIME:EVENT (e.g. 2s:switch, 3s:blackout:500ms)`);
    }
    const atMs = parseDuration(parts[0], where);
    const kind = parts[1];
    if (kind !== "switch" && kind !== "rebind" && kind !== "blackout") {
      throw new ConfigError(`${where}: ${JSON.stringify(kind)} is not switch, rebind or blackout`);
    }
    if (kind === "blackout") {
      if (parts.length !== 3) throw new ConfigError(`${where}: a blackout needs a duration`);
      const durationMs = parseDuration(parts[2], where);
      if (durationMs === 0) throw new ConfigError(`${where}: a blackout needs a duration > 0`);
      events.push({ kind, atMs, durationMs });
    } else {
      if (parts.length === 3) throw new ConfigError(`${where}: ${kind} takes no duration`);
      events.push({ kind, atMs });
    }
  }
  if (events.length > MAX_EVENTS) {
    throw new ConfigError(`${source}: more than ${MAX_EVENTS} events`);
  }
  return events;
}

/**
 * Every event of `schedule` in time order (list events first at equal times), the periodic ones
 * repeated without end, at most {@link MAX_EVENTS} in all. The caller stops pulling when the
 * client exits.
 */
export function* timeline(schedule: Schedule): Generator<NetEvent> {
  const listed = [...schedule.events].sort((a, b) => a.atMs - b.atMs);
  const nextAt = schedule.periodic.map((p) => p.everyMs);
  let index = 0;
  for (let yielded = 0; yielded < MAX_EVENTS; yielded++) {
    let soonest = -1;
    for (let i = 0; i < nextAt.length; i++) {
      if (soonest === -1 || nextAt[i] < nextAt[soonest]) soonest = i;
    }
    const listedNext = listed[index];
    if (listedNext !== undefined && (soonest === -1 || listedNext.atMs <= nextAt[soonest])) {
      index++;
      yield listedNext;
    } else if (soonest !== -1) {
      yield { kind: schedule.periodic[soonest].kind, atMs: nextAt[soonest] };
      nextAt[soonest] += schedule.periodic[soonest].everyMs;
    } else {
      return;
    }
  }
}

/** `rebind`, `switch`, `blackout 500ms`: how an event is named in logs and reports. */
export function describeEvent(event: Pick<NetEvent, "kind" | "durationMs">): string {
  return event.kind === "blackout" ? `blackout ${event.durationMs}ms` : event.kind;
}
