/**
 * Keeps the dashboard current: a Server-Sent Events stream (`/api/events`) for what happens,
 * resumed from the last event id after a drop, plus a periodic refresh for what has no event
 * (request counters, last activity). While the stream is down the refresh runs faster, so the
 * page falls back to polling. Auto-refresh off stops both.
 * @module
 */

/** Event types the server sends. */
const EVENT_TYPES = ["connection_opened", "migration", "migration_outcome", "connection_closed"];
/** Consecutive stream failures after which the page says it is polling. */
const FAILURES_BEFORE_POLLING = 3;
/** `EventSource.CLOSED`: the browser will not retry by itself. */
const CLOSED = 2;

/**
 * @typedef {"connecting" | "live" | "reconnecting" | "polling" | "paused"} LiveState
 */

/**
 * What this module uses of an `EventSource`.
 * @typedef {{
 *   readyState: number,
 *   onopen: (() => void) | null,
 *   onerror: (() => void) | null,
 *   addEventListener(type: string, listener: (message: {lastEventId: string, data: string}) => void): void,
 *   close(): void,
 * }} EventStream
 */

/** The live-update controller. */
export class LiveUpdates {
  /**
   * @param {{
   *   onEvent: (event: any) => void,
   *   onReset: () => void,
   *   refresh: () => Promise<void>,
   *   onState: (state: LiveState, detail: string) => void,
   * }} hooks
   * @param {{
   *   EventSource?: new (url: string) => EventStream,
   *   liveRefreshMs?: number,
   *   pollRefreshMs?: number,
   *   backoffMs?: number,
   * }} [options] refresh periods while live (5 s) and while polling (2 s), the first reopen
   *   delay (doubling up to 30 s), and the EventSource class (tests pass a fake)
   */
  constructor(hooks, options = {}) {
    this.hooks = hooks;
    this.EventSourceClass = options.EventSource ?? globalThis.EventSource;
    this.liveRefreshMs = options.liveRefreshMs ?? 5000;
    this.pollRefreshMs = options.pollRefreshMs ?? 2000;
    this.backoffMs = options.backoffMs ?? 1000;
    /** @type {EventStream | undefined} */
    this.source = undefined;
    /** The id of the newest event (a number on one node, a Redis stream id in a cluster). */
    this.lastEventId = "";
    this.failures = 0;
    /** @type {LiveState} */
    this.state = "paused";
    this.reopenTimer = undefined;
    this.refreshTimer = undefined;
    this.running = false;
  }

  /** Opens the stream and starts the periodic refresh. */
  start() {
    if (this.running) return;
    this.running = true;
    this.#open();
    this.#scheduleRefresh();
  }

  /** Closes the stream and stops refreshing. */
  stop() {
    this.running = false;
    this.source?.close();
    this.source = undefined;
    clearTimeout(this.reopenTimer);
    clearTimeout(this.refreshTimer);
    this.#setState("paused", "auto-refresh is off");
  }

  #open() {
    const query = this.lastEventId !== ""
      ? `?last_event_id=${encodeURIComponent(this.lastEventId)}`
      : "";
    const source = new this.EventSourceClass(`/api/events${query}`);
    this.source = source;
    this.#setState(this.failures === 0 ? "connecting" : this.#downState(), "opening the stream");
    source.onopen = () => {
      const wasDown = this.state !== "connecting" && this.state !== "live";
      this.failures = 0;
      this.#setState("live", "events stream open");
      // Counters have no events: catch up on them once the stream is back.
      if (wasDown) this.#refreshNow();
    };
    source.onerror = () => {
      this.failures++;
      if (source.readyState === CLOSED) {
        // The browser gave up (e.g. an error status): reopen ourselves, resuming by id.
        source.close();
        const backoff = this.backoffMs * 2 ** Math.min(this.failures - 1, 5);
        clearTimeout(this.reopenTimer);
        this.reopenTimer = setTimeout(() => this.running && this.#open(), backoff);
      }
      this.#setState(this.#downState(), "events stream lost; polling meanwhile");
    };
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (message) => {
        // Events arrive in id order (replays too), so the latest is the one to resume from.
        if (message.lastEventId) this.lastEventId = message.lastEventId;
        try {
          this.hooks.onEvent(JSON.parse(message.data));
        } catch (error) {
          console.warn("dashboard: bad event", error);
        }
      });
    }
    source.addEventListener("reset", () => this.hooks.onReset());
  }

  #downState() {
    return this.failures >= FAILURES_BEFORE_POLLING ? "polling" : "reconnecting";
  }

  #setState(state, detail) {
    this.state = state;
    this.hooks.onState(state, detail);
  }

  #scheduleRefresh() {
    clearTimeout(this.refreshTimer);
    if (!this.running) return;
    const period = this.state === "live" ? this.liveRefreshMs : this.pollRefreshMs;
    this.refreshTimer = setTimeout(() => this.#refreshNow(), period);
  }

  async #refreshNow() {
    clearTimeout(this.refreshTimer);
    try {
      await this.hooks.refresh();
    } finally {
      this.#scheduleRefresh();
    }
  }
}
