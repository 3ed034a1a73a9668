/**
 * The dashboard's entry point: wires the store, the views, live updates and this page's own
 * connection card together, and decides when to fetch and redraw.
 * @module
 */

import { getJson, listConnections } from "./api.js";
import { ConnectionsView } from "./connections_view.js";
import { count } from "./format.js";
import { renderInstructions } from "./instructions.js";
import { LiveUpdates } from "./live.js";
import { drawOverview, MigrationTimes } from "./overview.js";
import { SelfCard } from "./self_card.js";
import { ConnectionStore } from "./store.js";
import { drawTimeline, fillMigrationTable } from "./timeline.js";

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const AUTO_REFRESH_KEY = "dashboard.autoRefresh";

const store = new ConnectionStore();
const times = new MigrationTimes();
/** The connection whose timeline is shown, and its last detail answer. */
let selectedId = "";
let detail = null;
let detailDrawn = null;
/** This page's own connection id, once known. */
let ownId = "";
let userSelected = false;

const view = new ConnectionsView(store, {
  onSelect: (id) => {
    userSelected = true;
    select(id);
  },
  onFilterChange: (serverSide) => serverSide ? refresh() : scheduleRender(),
});

/** Shows `id`'s timeline. */
function select(id) {
  if (selectedId !== id) {
    selectedId = id;
    detail = null;
    $("timeline-title-id").textContent = id;
    $("timeline-hint").textContent = "Loading…";
  }
  scheduleRender();
  loadDetail();
}

async function loadDetail() {
  const id = selectedId;
  if (id === "") return;
  try {
    const fresh = await getJson(`/api/connections/${encodeURIComponent(id)}`);
    if (id !== selectedId) return;
    detail = fresh;
    store.update(fresh);
    times.add(fresh);
    $("timeline-hint").textContent = "";
  } catch (error) {
    if (id !== selectedId) return;
    detail = null;
    $("timeline-hint").textContent = `Cannot show ${id}: ${error.message}`;
  }
  scheduleRender();
}

let detailTimer;
/** Reloads the selected connection's detail soon, once for a burst of events. */
function scheduleDetail() {
  clearTimeout(detailTimer);
  detailTimer = setTimeout(loadDetail, 100);
}

let refreshing = null;
let refreshAgain = false;
/** Reloads the listing, the overview and the selected connection (one at a time). */
function refresh() {
  if (refreshing) {
    refreshAgain = true;
    return refreshing;
  }
  refreshing = (async () => {
    try {
      const [list, migrated] = await Promise.all([
        listConnections(store.filter),
        listConnections({ state: "all", migrated: true }),
      ]);
      store.replaceAll(list.connections);
      store.summary = list.summary;
      store.truncated = list.truncated;
      store.localOnly = list.localOnly;
      times.replaceAll(migrated.connections);
      $("list-error").textContent = "";
    } catch (error) {
      $("list-error").textContent = `Could not load connections: ${error.message}`;
    }
    await loadDetail();
    scheduleRender();
  })().finally(() => {
    refreshing = null;
    if (refreshAgain) {
      refreshAgain = false;
      refresh();
    }
  });
  return refreshing;
}

let renderQueued = false;
/** Redraws soon, once for a burst of changes. */
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  setTimeout(() => {
    renderQueued = false;
    render();
  }, 50);
}

function render() {
  const now = Date.now();
  view.selectedId = selectedId;
  view.ownId = ownId;
  view.render();
  const buckets = times.perMinute(now);
  drawOverview(/** @type {any} */ ($("overview-chart")), buckets);
  const s = store.summary;
  if (s) {
    const o = s.migrations_by_outcome ?? {};
    const noun = s.total_migrations === 1 ? "migration" : "migrations";
    // A cluster node's migration totals are its own (each node counts what it observes).
    const where = typeof s.node === "string" ? ` on node ${s.node}` : "";
    $("overview-totals").textContent =
      `${count(s.total_migrations)} ${noun} since start${where}: ` +
      `${count(o.validated ?? 0)} validated, ${count(o.pending ?? 0)} pending, ` +
      `${count(o.reverted ?? 0)} reverted, ` +
      `${count(o.closed_before_validation ?? 0)} closed before validation, ` +
      `${count(o.connection_lost ?? 0)} lost.`;
  }
  $("timeline").dataset.selected = selectedId;
  $("timeline-own").hidden = selectedId === "" || selectedId !== ownId;
  if (detail) {
    drawTimeline(/** @type {any} */ ($("timeline-chart")), detail, now);
    if (detailDrawn !== detail) {
      fillMigrationTable(/** @type {any} */ ($("timeline-rows")), detail);
      detailDrawn = detail;
    }
  }
  $("timeline-body").hidden = detail === null;
}

const live = new LiveUpdates({
  onEvent(event) {
    const id = store.apply(event);
    if (event.type === "migration") times.add(event.connection);
    if (id !== undefined && id === selectedId) scheduleDetail();
    scheduleRender();
  },
  onReset: () => refresh(),
  refresh,
  onState(state, detailText) {
    const indicator = $("live");
    indicator.dataset.state = state;
    $("live-state").textContent = state;
    indicator.title = detailText;
  },
});

const card = new SelfCard({
  onConnection(test) {
    if (ownId === test.connection_id) return;
    ownId = test.connection_id;
    if (!userSelected) select(ownId);
  },
  onMigrated(test) {
    if (selectedId === test.connection_id) scheduleDetail();
  },
});

const autoRefresh = /** @type {HTMLInputElement} */ ($("auto-refresh"));
autoRefresh.checked = localStorage.getItem(AUTO_REFRESH_KEY) !== "off";
autoRefresh.addEventListener("change", () => {
  localStorage.setItem(AUTO_REFRESH_KEY, autoRefresh.checked ? "on" : "off");
  if (autoRefresh.checked) live.start();
  else live.stop();
});
$("refresh-now").addEventListener("click", () => refresh());

getJson("/api/info").then((info) => {
  card.setLab(info.this_connection?.on_lab_path === true, info.lab_port, info);
  renderInstructions($("instructions-body"), info);
}).catch(() => {
  renderInstructions($("instructions-body"), { port: location.port, host: "::" });
});

card.start();
refresh();
if (autoRefresh.checked) live.start();
else live.stop();
// Ages and the open end of the timeline move with the clock.
setInterval(render, 1000);
