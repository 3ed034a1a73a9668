/**
 * The connections list: a table of one page of the store's visible connections (50 rows at a
 * time, so 1,000+ connections stay cheap to draw), the filter form and the pager. Rows are
 * rebuilt on every render; keyboard focus on a row's button survives the rebuild.
 * @module
 */

import { count, duration, el } from "./format.js";

const PAGE_SIZE = 50;

/** The list view over a `ConnectionStore`. */
export class ConnectionsView {
  /**
   * @param {import("./store.js").ConnectionStore} store
   * @param {{
   *   onSelect: (id: string) => void,
   *   onFilterChange: (serverSide: boolean) => void,
   * }} hooks
   */
  constructor(store, hooks) {
    this.store = store;
    this.hooks = hooks;
    this.page = 0;
    this.selectedId = "";
    this.ownId = "";
    this.rows = /** @type {HTMLTableSectionElement} */ (document.getElementById("rows"));
    this.status = /** @type {HTMLElement} */ (document.getElementById("list-status"));
    this.range = /** @type {HTMLElement} */ (document.getElementById("page-range"));
    this.prev = /** @type {HTMLButtonElement} */ (document.getElementById("page-prev"));
    this.next = /** @type {HTMLButtonElement} */ (document.getElementById("page-next"));
    this.nodeCol = /** @type {HTMLElement} */ (document.getElementById("node-col"));
    this.prev.addEventListener("click", () => this.#turn(-1));
    this.next.addEventListener("click", () => this.#turn(1));
    this.#bindFilters();
  }

  #bindFilters() {
    const form = /** @type {HTMLFormElement} */ (document.getElementById("filters"));
    form.addEventListener("submit", (e) => e.preventDefault());
    form.addEventListener("change", (e) => {
      const target = /** @type {HTMLInputElement} */ (e.target);
      if (target.name === "search") return;
      const f = this.store.filter;
      f.state = /** @type {any} */ (form.elements.namedItem("state")).value;
      f.protocol = /** @type {any} */ (form.elements.namedItem("protocol")).value;
      f.migrated = /** @type {any} */ (form.elements.namedItem("migrated")).checked;
      this.page = 0;
      this.hooks.onFilterChange(true);
    });
    form.elements.namedItem("search")?.addEventListener("input", (e) => {
      this.store.filter.search = /** @type {HTMLInputElement} */ (e.target).value;
      this.page = 0;
      this.hooks.onFilterChange(false);
    });
  }

  #turn(step) {
    this.page += step;
    this.render();
    (step < 0 ? this.prev : this.next).focus();
  }

  /** Draws the current page. */
  render() {
    const visible = this.store.visible();
    const pages = Math.max(1, Math.ceil(visible.length / PAGE_SIZE));
    this.page = Math.min(Math.max(0, this.page), pages - 1);
    const first = this.page * PAGE_SIZE;
    const shown = visible.slice(first, first + PAGE_SIZE);
    const now = Date.now();
    // In cluster mode every record names the node holding it: show which.
    const clustered = visible.some((info) => typeof info.node === "string");
    this.nodeCol.hidden = !clustered;

    const focusedId = /** @type {HTMLElement | null} */ (document.activeElement)?.closest?.(
      "#rows tr",
    )?.getAttribute("data-id");
    this.rows.replaceChildren(...shown.map((info) => this.#row(info, now, clustered)));
    if (focusedId) {
      /** @type {HTMLElement | null} */ (this.rows.querySelector(
        `tr[data-id="${focusedId}"] button`,
      ))?.focus();
    }
    if (shown.length === 0) {
      this.rows.append(
        el("tr", { class: "empty" }, [
          el("td", { colspan: clustered ? 9 : 8, text: "No connections match these filters." }),
        ]),
      );
    }

    this.range.textContent = visible.length === 0
      ? "0 connections"
      : `${count(first + 1)}–${count(first + shown.length)} of ${count(visible.length)}`;
    this.prev.disabled = this.page === 0;
    this.next.disabled = this.page >= pages - 1;
    const s = this.store.summary;
    this.status.textContent = s
      ? `${count(s.open)} open, ${count(s.closed)} recently closed ${
        clustered ? "in the cluster" : "on the server"
      }` + (this.store.localOnly ? " (this node only: the cluster store is unreachable)" : "") +
        (this.store.truncated ? " (listing capped at 10,000; narrow the filters)" : "")
      : "Loading…";
  }

  /** One table row; `clustered` adds the node column. */
  #row(info, now, clustered) {
    const migrated = info.migration_count > 0;
    const classes = [info.state, migrated ? "migrated" : ""];
    if (info.connection_id === this.selectedId) classes.push("selected");
    const age = (info.state === "open" ? now : info._seen) - info._start;
    const last = info.migration_events.at(-1);
    const idLabel = info.connection_id === this.ownId ? " (this page)" : "";
    const select = el("button", {
      type: "button",
      class: "link",
      "aria-pressed": String(info.connection_id === this.selectedId),
      "aria-label": `Show the timeline of connection ${info.connection_id}${idLabel}`,
    }, [el("code", { text: info.connection_id })]);
    select.addEventListener("click", () => this.hooks.onSelect(info.connection_id));
    return el("tr", {
      class: classes.join(" ").trim(),
      "data-id": info.connection_id,
      "data-migrations": info.migration_count,
    }, [
      el("td", {}, [select, idLabel ? el("span", { class: "you", text: "you" }) : undefined]),
      clustered ? el("td", { class: "node" }, [el("code", { text: info.node ?? "" })]) : undefined,
      el("td", { text: info.protocol }),
      el("td", { text: info.state }),
      el("td", { class: "addr" }, [el("code", { text: info.remote_addr })]),
      el("td", { class: "num", text: count(info.request_count) }),
      el("td", { class: "num", "data-col": "migrations" }, [
        migrated
          ? el("span", {
            class: `badge ${last?.outcome ?? ""}`,
            title: last ? `last: ${last.old_addr} → ${last.new_addr} (${last.outcome})` : "",
            text: `⇄ ${count(info.migration_count)}`,
          })
          : "0",
      ]),
      el("td", { class: "num", text: duration(age) }),
      el("td", { class: "num", text: `${duration(now - info._seen)} ago` }),
    ]);
  }
}
