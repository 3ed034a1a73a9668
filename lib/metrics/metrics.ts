/**
 * Server metrics in the Prometheus text format (version 0.0.4): connections by protocol,
 * migrations by kind and outcome, a histogram of the migration detection window, and requests
 * by protocol and status. Fed by tracker events and by what every request passes through
 * (`lib/middleware/every_request.ts`).
 *
 * ```ts
 * const metrics = new Metrics(tracker);
 * metrics.countRequest("h3", 200);
 * console.log(metrics.render());
 * ```
 * @module
 */

import type { ConnectionTracker } from "../tracker/tracker.ts";
import type { Protocol } from "../tracker/types.ts";
import type { EventFeedStats } from "../tracker/event_feed.ts";

/** What the metrics read of the live event feed (`lib/tracker/event_feed.ts`). */
export interface EventFeedGauges {
  readonly subscribers: number;
  readonly stats: EventFeedStats;
}

/** Upper bounds (ms) of the detection-window histogram buckets. */
export const DETECTION_BUCKETS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000];

const PROTOCOLS: Protocol[] = ["h3", "h2", "http/1.1"];

/** Counters kept in memory; `render()` formats them. */
export class Metrics {
  readonly #tracker: ConnectionTracker;
  readonly #opened = new Map<Protocol, number>();
  readonly #open = new Map<Protocol, number>();
  readonly #migrations = new Map<string, number>(); // "kind\0detected_by"
  readonly #outcomes = new Map<string, number>();
  readonly #buckets = new Array<number>(DETECTION_BUCKETS_MS.length + 1).fill(0);
  #detectionSum = 0;
  #detectionCount = 0;
  readonly #refused = { quic: 0, tcp: 0 };
  readonly #rateLimited = new Map<string, number>();
  /** Requests by protocol, then by status: no key string built per request. */
  readonly #requests = new Map<Protocol, Map<number, number>>();
  #feed: EventFeedGauges | undefined;
  /** Families other modules render (a cluster node's), appended as they are. */
  readonly #sections: (() => string)[] = [];

  /** Subscribes to `tracker`'s events. */
  constructor(tracker: ConnectionTracker) {
    this.#tracker = tracker;
    tracker.subscribe((event) => {
      switch (event.type) {
        case "connection_opened": {
          const p = event.connection.protocol;
          this.#opened.set(p, (this.#opened.get(p) ?? 0) + 1);
          this.#open.set(p, (this.#open.get(p) ?? 0) + 1);
          break;
        }
        case "connection_closed": {
          const p = event.connection.protocol;
          this.#open.set(p, (this.#open.get(p) ?? 0) - 1);
          break;
        }
        case "migration": {
          const m = event.migration;
          const key = `${m.kind}\0${m.detected_by}`;
          this.#migrations.set(key, (this.#migrations.get(key) ?? 0) + 1);
          this.#observeDetection(m.detection_window_ms);
          break;
        }
        case "migration_outcome": {
          const m = event.migration;
          const key = `${m.kind}\0${m.outcome}`;
          this.#outcomes.set(key, (this.#outcomes.get(key) ?? 0) + 1);
          break;
        }
      }
    });
  }

  /** Appends the lines `render` returns to every rendering (whole families, text format). */
  addSection(render: () => string): void {
    this.#sections.push(render);
  }

  /** Counts one answered request. Hot path: one map update. */
  countRequest(protocol: Protocol, status: number): void {
    let byStatus = this.#requests.get(protocol);
    if (byStatus === undefined) this.#requests.set(protocol, byStatus = new Map());
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  }

  /** Counts a connection refused because the connection limit was reached. */
  countRefused(transport: "quic" | "tcp"): void {
    this.#refused[transport]++;
  }

  /** Reports the live event feed's streams and totals from now on. */
  observeEventFeed(feed: EventFeedGauges): void {
    this.#feed = feed;
  }

  /** Counts a request refused by a rate limit, by route. */
  countRateLimited(route: string): void {
    this.#rateLimited.set(route, (this.#rateLimited.get(route) ?? 0) + 1);
  }

  #observeDetection(ms: number): void {
    let i = 0;
    while (i < DETECTION_BUCKETS_MS.length && ms > DETECTION_BUCKETS_MS[i]) i++;
    this.#buckets[i]++;
    this.#detectionSum += ms;
    this.#detectionCount++;
  }

  #renderFeed(
    feed: EventFeedGauges,
    family: (name: string, type: string, help: string) => void,
    out: string[],
  ): void {
    family("sse_streams_open", "gauge", "Live /api/events streams now.");
    out.push(`sse_streams_open ${feed.subscribers}`);
    family(
      "sse_streams_refused_total",
      "counter",
      "/api/events streams refused (503) because --max-event-streams were open.",
    );
    out.push(`sse_streams_refused_total ${feed.stats.refused}`);
    family(
      "sse_streams_dropped_total",
      "counter",
      "/api/events streams ended because their client fell --event-stream-buffer bytes behind.",
    );
    out.push(`sse_streams_dropped_total ${feed.stats.dropped}`);
    family(
      "sse_events_encoded_total",
      "counter",
      "Events encoded for /api/events: once per event, however many streams carry it.",
    );
    out.push(`sse_events_encoded_total ${feed.stats.encoded}`);
  }

  /** The metrics as Prometheus text. */
  render(): string {
    const out: string[] = [];
    const family = (name: string, type: string, help: string) =>
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    family("quic_connections_open", "gauge", "Connections open now, by protocol.");
    for (const p of PROTOCOLS) {
      out.push(`quic_connections_open{protocol="${p}"} ${this.#open.get(p) ?? 0}`);
    }
    family("quic_connections_total", "counter", "Connections accepted, by protocol.");
    for (const p of PROTOCOLS) {
      out.push(`quic_connections_total{protocol="${p}"} ${this.#opened.get(p) ?? 0}`);
    }
    family(
      "quic_migrations_total",
      "counter",
      "Remote address changes observed, by kind and by what detected them.",
    );
    for (const [key, n] of this.#migrations) {
      const [kind, by] = key.split("\0");
      out.push(`quic_migrations_total{kind="${kind}",detected_by="${by}"} ${n}`);
    }
    family("quic_migration_outcomes_total", "counter", "Settled migrations, by kind and outcome.");
    for (const [key, n] of this.#outcomes) {
      const [kind, outcome] = key.split("\0");
      out.push(`quic_migration_outcomes_total{kind="${kind}",outcome="${outcome}"} ${n}`);
    }
    family("quic_migrations_pending", "gauge", "Migrations inside their validation window.");
    out.push(
      `quic_migrations_pending ${this.#tracker.summary().migrations_by_outcome.pending ?? 0}`,
    );
    family(
      "quic_migration_detection_window_ms",
      "histogram",
      "Milliseconds between the last sighting of the old address and the detection of the new one (an upper bound on detection delay).",
    );
    let cumulative = 0;
    for (let i = 0; i < DETECTION_BUCKETS_MS.length; i++) {
      cumulative += this.#buckets[i];
      out.push(
        `quic_migration_detection_window_ms_bucket{le="${DETECTION_BUCKETS_MS[i]}"} ${cumulative}`,
      );
    }
    cumulative += this.#buckets[DETECTION_BUCKETS_MS.length];
    out.push(`quic_migration_detection_window_ms_bucket{le="+Inf"} ${cumulative}`);
    out.push(`quic_migration_detection_window_ms_sum ${this.#detectionSum}`);
    out.push(`quic_migration_detection_window_ms_count ${this.#detectionCount}`);
    family("http_requests_total", "counter", "Requests answered, by protocol and status.");
    for (const [protocol, byStatus] of this.#requests) {
      for (const [status, n] of byStatus) {
        out.push(`http_requests_total{protocol="${protocol}",status="${status}"} ${n}`);
      }
    }
    family(
      "quic_connections_refused_total",
      "counter",
      "Connections refused at the cap (--max-connections for QUIC, --max-tcp-connections for TCP), by transport.",
    );
    for (const transport of ["quic", "tcp"] as const) {
      out.push(
        `quic_connections_refused_total{transport="${transport}"} ${this.#refused[transport]}`,
      );
    }
    family("http_requests_rate_limited_total", "counter", "Requests answered 429, by route.");
    for (const [route, n] of this.#rateLimited) {
      out.push(`http_requests_rate_limited_total{route="${route}"} ${n}`);
    }
    if (this.#feed !== undefined) this.#renderFeed(this.#feed, family, out);
    const memory = Deno.memoryUsage();
    family("process_resident_memory_bytes", "gauge", "Resident set size of the server process.");
    out.push(`process_resident_memory_bytes ${memory.rss}`);
    family("deno_heap_used_bytes", "gauge", "JavaScript heap in use.");
    out.push(`deno_heap_used_bytes ${memory.heapUsed}`);
    for (const section of this.#sections) out.push(section().trimEnd());
    return out.join("\n") + "\n";
  }
}
