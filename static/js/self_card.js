/**
 * "This page's connection": the connection this page's requests travel on, as the server sees
 * it (`GET /api/test` once a second, counting ok and failed requests), and, when the page came
 * through the migration lab, buttons that ask the server to move this very connection
 * (`POST /api/simulate-migration` with `"self"`). The counter keeps going through the move: a
 * migration that works loses no request.
 * @module
 */

import { getJson, postJson } from "./api.js";
import { count, KIND_LABEL, millis, OUTCOME_LABEL } from "./format.js";

const TICK_MS = 1000;
const TICK_TIMEOUT_MS = 5000;
/** How long to wait for a requested move to show before giving the buttons back. */
const MOVE_TIMEOUT_MS = 10_000;

/** The card. */
export class SelfCard {
  /**
   * @param {{
   *   onConnection: (test: any) => void,
   *   onMigrated: (test: any) => void,
   * }} hooks called with each `/api/test` answer, and when the migration count went up
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.ok = 0;
    this.failed = 0;
    /** @type {any} the last `/api/test` answer */
    this.test = null;
    /** Migration count when a move was requested, until it goes up. */
    this.awaitingFrom = -1;
    /** Moves requested so far; a timeout only answers for its own request. */
    this.moveRequests = 0;
    this.$ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
    for (const button of document.querySelectorAll("#self-lab button[data-kind]")) {
      button.addEventListener("click", () => this.#migrate(button.getAttribute("data-kind")));
    }
  }

  /** Starts the once-a-second request loop. */
  start() {
    this.#tick();
  }

  async #tick() {
    try {
      const res = await fetch("/api/test", {
        cache: "no-store",
        signal: AbortSignal.timeout(TICK_TIMEOUT_MS),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const test = await res.json();
      this.ok++;
      this.#show(test);
    } catch (error) {
      this.failed++;
      this.$("self-last-error").textContent = `last failure: ${error}`;
    }
    this.$("self-ok").textContent = count(this.ok);
    this.$("self-failed").textContent = count(this.failed);
    this.$("self-requests-cell").classList.toggle("bad", this.failed > 0);
    setTimeout(() => this.#tick(), TICK_MS);
  }

  #show(test) {
    const before = this.test;
    this.test = test;
    this.$("self-protocol").textContent = test.protocol;
    this.$("self-id").textContent = test.connection_id;
    this.$("self-addr").textContent = test.remote_addr;
    this.$("self-migrations").textContent = count(test.migration_count);
    this.$("self-server-requests").textContent = count(test.request_count);
    this.$("self").dataset.protocol = test.protocol;
    this.hooks.onConnection(test);
    const moved = before && before.connection_id === test.connection_id &&
      test.migration_count > before.migration_count;
    if (moved) {
      this.$("self-addr").classList.add("changed");
      this.hooks.onMigrated(test);
      if (this.awaitingFrom >= 0 && test.migration_count > this.awaitingFrom) {
        this.awaitingFrom = -1;
        this.#setBusy(false);
      }
      this.#describeLastMove(test.connection_id);
    } else if (before && before.connection_id !== test.connection_id) {
      this.$("self-status").textContent =
        "This page is now on a new connection (the old one closed): a new connection is not a migration.";
    }
  }

  /**
   * Shows the migrate buttons when this page's connection came through the lab, else a hint.
   * @param {boolean} onLabPath
   * @param {number | null} labPort
   * @param {any} info the `/api/info` answer
   */
  setLab(onLabPath, labPort, info) {
    this.$("self-lab").hidden = !onLabPath;
    const hint = this.$("self-lab-hint");
    hint.hidden = onLabPath || !labPort;
    if (onLabPath || !labPort) return;
    const link = /** @type {HTMLAnchorElement} */ (this.$("self-lab-link"));
    link.href = `${location.protocol}//${location.hostname}:${labPort}/`;
    link.textContent = link.href;
    this.$("self-lab-hint-text").textContent = String(labPort) === location.port
      ? `This page reached the lab port over ${info.this_connection?.protocol}; only HTTP/3 ` +
        "through the lab's relay can be moved. Reload (the browser has learned Alt-Svc) or " +
        "start Chromium as shown under Try it:"
      : "To move this page's connection, open the dashboard through the migration lab:";
  }

  async #migrate(kind) {
    if (!this.test) return;
    this.#setBusy(true);
    this.awaitingFrom = this.test.migration_count;
    this.$("self-status").textContent = `Asking the lab to move this connection (${kind})…`;
    try {
      const { status, body } = await postJson("/api/simulate-migration", {
        connection_id: "self",
        kind,
        count: 1,
      });
      if (status !== 202) {
        this.awaitingFrom = -1;
        this.#setBusy(false);
        this.$("self-status").textContent = `The server said ${status}: ${
          body?.detail ?? "no detail"
        }`;
        return;
      }
      this.$("self-status").textContent =
        `Scheduled: the lab moves this connection to a new ${kind} in ${body.starts_after_ms} ms; ` +
        "the next request shows it…";
      const request = ++this.moveRequests;
      setTimeout(() => {
        if (this.moveRequests !== request || this.awaitingFrom < 0) return;
        this.awaitingFrom = -1;
        this.#setBusy(false);
        this.$("self-status").textContent =
          "No move seen within 10 s: the server did not see this connection arrive from a new path.";
      }, MOVE_TIMEOUT_MS);
    } catch (error) {
      this.awaitingFrom = -1;
      this.#setBusy(false);
      this.$("self-status").textContent = `The request failed: ${error}`;
    }
  }

  #setBusy(busy) {
    for (const button of document.querySelectorAll("#self-lab button[data-kind]")) {
      /** @type {HTMLButtonElement} */ (button).disabled = busy;
    }
  }

  /** Says what the server saw of the newest move, with the lab's exact delay if it has one. */
  async #describeLastMove(id) {
    try {
      const detail = await getJson(`/api/connections/${id}`);
      const event = detail.migration_events.at(-1);
      if (!event) return;
      const lab = detail.lab?.migrations?.findLast?.((m) =>
        m.old_addr === event.old_addr && m.new_addr === event.new_addr
      );
      this.$("self-status").textContent =
        `Moved: ${KIND_LABEL[event.kind]} ${event.old_addr} → ${event.new_addr}, ` +
        `seen by ${event.detected_by} ${
          lab ? `${millis(lab.detection_delay_ms)} after the lab moved it` : "within " +
            millis(event.detection_window_ms)
        }; ${OUTCOME_LABEL[event.outcome]}. Same connection ${id}; ` +
        `page requests by then: ${count(this.ok)} ok, ${count(this.failed)} failed.`;
    } catch (error) {
      this.$("self-status").textContent = `Moved; details unavailable (${error}).`;
    }
  }
}
