/**
 * A connection's path over time, drawn in SVG: one lane per address the server saw it on, the
 * path moving between lanes at each migration (a marker with kind, detection delay and outcome),
 * and the connection's requests per second as ticks underneath. The table beside it says the
 * same in words, with the lab's exact delays when the lab moved the connection.
 * @module
 */

import { clock, duration, el, KIND_LABEL, millis, OUTCOME_LABEL, svg } from "./format.js";

const WIDTH = 960;
const LEFT = 190;
const RIGHT = 24;
const TOP = 14;
const REQUEST_ROW = 46;
const AXIS = 26;
/** Labels beside markers only while they fit. */
const MAX_LABELLED = 12;

/**
 * Pairs each tracker migration with the lab's record of the same move (exact delay), if any.
 * @param {any} detail a `/api/connections/:id` answer
 * @returns {Array<any | undefined>}
 */
export function labMatches(detail) {
  const lab = detail.lab?.migrations ?? [];
  const used = new Set();
  return detail.migration_events.map((event) => {
    const i = lab.findIndex((m, j) =>
      !used.has(j) && m.detected && m.old_addr === event.old_addr && m.new_addr === event.new_addr
    );
    if (i === -1) return undefined;
    used.add(i);
    return lab[i];
  });
}

/**
 * Draws `detail`'s timeline into `root` (an `<svg>`), up to `nowMs` for an open connection.
 * @param {SVGSVGElement} root
 * @param {any} detail
 * @param {number} nowMs
 */
export function drawTimeline(root, detail, nowMs) {
  const events = detail.migration_events;
  const t0 = Date.parse(detail.start_time);
  const end = detail.state === "open" ? Math.max(nowMs, Date.parse(detail.last_seen)) : Date.parse(
    detail.last_seen,
  );
  const t1 = Math.max(end, t0 + 1000);
  const firstAddr = events[0]?.old_addr ?? detail.remote_addr;
  const lanes = [firstAddr];
  for (const e of events) if (!lanes.includes(e.new_addr)) lanes.push(e.new_addr);
  const laneHeight = Math.max(14, Math.min(36, 360 / lanes.length));
  const lanesBottom = TOP + lanes.length * laneHeight;
  const height = lanesBottom + REQUEST_ROW + AXIS;
  const x = (t) => LEFT + ((t - t0) / (t1 - t0)) * (WIDTH - LEFT - RIGHT);
  const y = (addr) => TOP + (lanes.indexOf(addr) + 0.5) * laneHeight;

  root.setAttribute("viewBox", `0 0 ${WIDTH} ${height}`);
  root.setAttribute(
    "aria-label",
    `Connection ${detail.connection_id}: ${detail.migration_count} migrations across ${lanes.length} addresses over ${
      duration(t1 - t0)
    }`,
  );
  const parts = [];

  lanes.forEach((addr, i) => {
    const mid = TOP + (i + 0.5) * laneHeight;
    parts.push(
      svg("line", { class: "lane", x1: LEFT, x2: WIDTH - RIGHT, y1: mid, y2: mid }),
      svg("text", { class: "lane-label", x: LEFT - 8, y: mid + 4, "text-anchor": "end" }, [
        addr === detail.remote_addr ? `${addr} (now)` : addr,
      ]),
    );
  });

  let d = `M${x(t0)},${y(firstAddr)}`;
  for (const e of events) {
    const tx = x(Date.parse(e.timestamp));
    d += ` H${tx} V${y(e.new_addr)}`;
  }
  d += ` H${x(t1)}`;
  parts.push(svg("path", { class: "path", d }));
  if (detail.migration_events_dropped > 0) {
    parts.push(
      svg("text", { class: "note", x: LEFT + 4, y: TOP - 3 }, [
        `${detail.migration_events_dropped} older migrations not kept`,
      ]),
    );
  }

  const lab = labMatches(detail);
  events.forEach((e, i) => {
    const t = Date.parse(e.timestamp);
    const cx = x(t);
    const cy = y(e.new_addr);
    const delay = lab[i]?.detection_delay_ms ?? e.detection_window_ms;
    const kindShort = e.kind === "port_change"
      ? "port"
      : e.kind === "preferred_address"
      ? "hand-off"
      : "address";
    const title = `${KIND_LABEL[e.kind]} at ${clock(t)}: ${e.old_addr} → ${e.new_addr}; ` +
      `detected by ${e.detected_by} ${
        lab[i] ? `${millis(delay)} after the lab moved it` : `within ${millis(delay)}`
      }; ${OUTCOME_LABEL[e.outcome]}`;
    parts.push(
      svg("g", {
        class: `migration ${e.outcome}`,
        "data-index": i,
        "data-kind": e.kind,
        "data-outcome": e.outcome,
      }, [
        svg("title", {}, [title]),
        svg("circle", { cx, cy, r: 6 }),
        events.length <= MAX_LABELLED
          ? svg("text", {
            class: "marker-label",
            x: cx + 9,
            y: cy - 8,
          }, [`${kindShort} · ${millis(delay)} · ${OUTCOME_LABEL[e.outcome]}`])
          : undefined,
      ]),
    );
  });

  parts.push(...requestTicks(detail.request_activity, x, t0, t1, lanesBottom));
  parts.push(...axis(t0, t1, x, height));
  root.replaceChildren(...parts);
}

/** The requests row: one tick per second with requests, height by count. */
function requestTicks(activity, x, t0, t1, top) {
  const base = top + REQUEST_ROW - 8;
  const parts = [
    svg("text", { class: "lane-label", x: LEFT - 8, y: base - 6, "text-anchor": "end" }, [
      "requests / s",
    ]),
    svg("line", { class: "lane", x1: LEFT, x2: WIDTH - RIGHT, y1: base, y2: base }),
  ];
  if (!activity) return parts;
  const start = Date.parse(activity.start);
  const kept = Math.max(start, t0);
  parts.push(
    svg("rect", {
      class: "kept",
      x: x(kept),
      y: top + 4,
      width: Math.max(0, x(t1) - x(kept)),
      height: base - top - 4,
    }, [svg("title", {}, ["request history kept for the last two minutes"])]),
  );
  const max = Math.max(1, ...activity.counts);
  activity.counts.forEach((n, i) => {
    if (n === 0) return;
    // One bar per second with requests, clipped to the drawn span (a connection may start or
    // end mid-second), as wide as that second on this scale (at least a thin tick).
    const from = start + i * activity.bucket_ms;
    if (from + activity.bucket_ms <= t0 || from > t1) return;
    const left = x(Math.max(from, t0));
    const width = Math.max(2, x(Math.min(from + activity.bucket_ms, t1)) - left - 1);
    const h = 4 + (24 * n) / max;
    parts.push(
      svg("rect", { class: "tick", x: left, y: base - h, width, height: h }, [
        svg("title", {}, [
          `${n} request${n === 1 ? "" : "s"} in second ${clock(from).slice(0, 8)}`,
        ]),
      ]),
    );
  });
  return parts;
}

/** Time labels along the bottom. */
function axis(t0, t1, x, height) {
  const y = height - 8;
  const parts = [];
  for (let i = 0; i <= 4; i++) {
    const t = t0 + ((t1 - t0) * i) / 4;
    parts.push(
      svg("text", {
        class: "axis",
        x: x(t),
        y,
        "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle",
      }, [i === 0 ? clock(t).slice(0, 8) : offset(t - t0, t1 - t0)]),
    );
  }
  return parts;
}

/** An axis offset, precise enough that neighbouring labels differ. */
function offset(ms, span) {
  if (span < 2000) return `+${Math.round(ms)} ms`;
  if (span < 20_000) return `+${(ms / 1000).toFixed(1)} s`;
  return `+${duration(ms)}`;
}

/**
 * Fills the migrations table under the timeline.
 * @param {HTMLTableSectionElement} body
 * @param {any} detail
 */
export function fillMigrationTable(body, detail) {
  const lab = labMatches(detail);
  const rows = detail.migration_events.map((e, i) =>
    el("tr", { class: e.outcome }, [
      el("td", { class: "num", text: i + 1 + detail.migration_events_dropped }),
      el("td", { text: clock(Date.parse(e.timestamp)) }),
      el("td", { text: KIND_LABEL[e.kind] }),
      el("td", { class: "addr" }, [el("code", { text: `${e.old_addr} → ${e.new_addr}` })]),
      el("td", { text: e.detected_by }),
      el("td", { class: "num", text: `≤ ${millis(e.detection_window_ms)}` }),
      el("td", { class: "num", text: lab[i] ? millis(lab[i].detection_delay_ms) : "–" }),
      el("td", {}, [el("span", { class: `badge ${e.outcome}`, text: OUTCOME_LABEL[e.outcome] })]),
    ])
  );
  if (rows.length === 0) {
    rows.push(el("tr", {}, [el("td", { colspan: 8, text: "No migrations on this connection." })]));
  }
  body.replaceChildren(...rows.reverse());
}
