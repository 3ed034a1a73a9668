/**
 * The end of a server's connection records at shutdown: every close reported, or recorded as
 * `server shutdown`, so a stored history never ends with a connection still open.
 * @module
 */

import type { ConnectionTracker } from "./tracker.ts";

/**
 * Waits (at most `timeoutMs`) until every connection's close has reached the tracker: listeners
 * report a close a moment after the socket goes. Any still open then is closed as
 * `server shutdown`, so the stored history ends with no connection left open.
 */
export async function closesReported(tracker: ConnectionTracker, timeoutMs: number): Promise<void> {
  if (tracker.summary().open > 0) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let unsubscribe = () => {};
    await new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      unsubscribe = tracker.subscribe((event) => {
        if (event.type === "connection_closed" && tracker.summary().open === 0) resolve();
      });
    });
    clearTimeout(timer);
    unsubscribe();
  }
  for (const conn of [...tracker.openConnections()]) {
    tracker.close(conn, "server shutdown", "normal");
  }
}
