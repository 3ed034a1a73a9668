/**
 * `GET /api/events`: the tracker's events as Server-Sent Events (`connection_opened`,
 * `migration`, `migration_outcome`, `connection_closed`), each with its id. A client that
 * reconnects with `Last-Event-ID` (or `?last_event_id=`) gets what it missed from a bounded
 * buffer; when that is no longer possible it gets a `reset` event and should reload its state.
 * @module
 */

import { Hono } from "hono";
import type { AppEnv } from "../lib/connection_env.ts";
import type { ConnectionTracker } from "../lib/tracker/tracker.ts";
import type { TrackerEvent } from "../lib/tracker/types.ts";
import { Visibility } from "../lib/access/visibility.ts";

const encoder = new TextEncoder();
/** A comment line every so often keeps proxies and idle timeouts from closing the stream. */
const HEARTBEAT_MS = 15_000;
/** Events queued for one slow client before it is disconnected (it can resume). */
const MAX_QUEUED = 1000;

function frame(event: TrackerEvent): Uint8Array {
  return encoder.encode(
    `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`,
  );
}

/** One client's stream: replays, then forwards live events until the client goes away. */
class EventStreamSource implements UnderlyingDefaultSource<Uint8Array> {
  #unsubscribe: (() => void) | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;

  /**
   * @param tracker the events' source
   * @param lastId the last event the client has
   * @param onlyConnection when set, only events about this connection are sent
   */
  constructor(
    private readonly tracker: ConnectionTracker,
    private readonly lastId: number,
    private readonly onlyConnection?: string,
  ) {}

  #visible(event: TrackerEvent): boolean {
    if (this.onlyConnection === undefined) return true;
    const id = "connection_id" in event ? event.connection_id : event.connection.connection_id;
    return id === this.onlyConnection;
  }

  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    controller.enqueue(
      encoder.encode(`retry: 2000\n: connected, last event id ${this.tracker.lastEventId}\n\n`),
    );
    const missed = this.tracker.eventsSince(this.lastId);
    if (missed === null) {
      controller.enqueue(
        encoder.encode(
          `event: reset\ndata: {"reason":"events after ${this.lastId} are no longer buffered; reload"}\n\n`,
        ),
      );
    } else {
      for (const event of missed) if (this.#visible(event)) controller.enqueue(frame(event));
    }
    this.#unsubscribe = this.tracker.subscribe((event) => {
      if ((controller.desiredSize ?? 0) < -MAX_QUEUED) {
        this.#stop();
        controller.error(new Error("client too slow"));
        return;
      }
      if (this.#visible(event)) controller.enqueue(frame(event));
    });
    this.#heartbeat = setInterval(() => {
      try {
        controller.enqueue(encoder.encode(": heartbeat\n\n"));
      } catch {
        this.#stop(); // the stream is gone; a throw here would be an uncaught timer error
      }
    }, HEARTBEAT_MS);
  }

  cancel(): void {
    this.#stop();
  }

  #stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    clearInterval(this.#heartbeat);
  }
}

/** The event stream route over `tracker`. */
export function events(
  tracker: ConnectionTracker,
  visibility: Visibility = new Visibility("on"),
): Hono<AppEnv> {
  return new Hono<AppEnv>().get("/api/events", (c) => {
    const raw = c.req.header("last-event-id") ?? c.req.query("last_event_id");
    const lastId = raw !== undefined && /^[0-9]+$/.test(raw) ? Number(raw) : tracker.lastEventId;
    const only = visibility.seesAll(c) ? undefined : c.env.connection.id;
    const stream = new ReadableStream(new EventStreamSource(tracker, lastId, only), {
      highWaterMark: 0,
    });
    return c.body(stream, 200, {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
    });
  });
}
