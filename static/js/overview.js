/**
 * The server-wide overview: migrations per minute over the last 30 minutes as a bar chart,
 * from the migration events of every migrated connection (`/api/connections?migrated=true`),
 * plus totals from the listing's summary.
 * @module
 */

import { count, svg } from "./format.js";

const MINUTES = 30;
const WIDTH = 480;
const HEIGHT = 120;
const PAD_LEFT = 28;
const PAD_BOTTOM = 18;

/** Migration times by connection, from listings and live events. */
export class MigrationTimes {
  constructor() {
    /** @type {Map<string, number[]>} */
    this.byConnection = new Map();
  }

  /**
   * Records the migration times a connection record lists.
   * @param {any} info
   */
  add(info) {
    if (info.migration_count === 0) return;
    this.byConnection.set(
      info.connection_id,
      info.migration_events.map((e) => Date.parse(e.timestamp)),
    );
  }

  /**
   * Replaces everything with a fresh listing of migrated connections.
   * @param {any[]} connections
   */
  replaceAll(connections) {
    this.byConnection.clear();
    for (const info of connections) this.add(info);
  }

  /**
   * Migrations per minute, oldest minute first; the last bucket is the current minute.
   * @param {number} nowMs
   * @returns {number[]}
   */
  perMinute(nowMs) {
    const buckets = new Array(MINUTES).fill(0);
    const currentMinute = Math.floor(nowMs / 60_000);
    for (const times of this.byConnection.values()) {
      for (const t of times) {
        const age = currentMinute - Math.floor(t / 60_000);
        if (age >= 0 && age < MINUTES) buckets[MINUTES - 1 - age]++;
      }
    }
    return buckets;
  }
}

/**
 * Draws the per-minute bars into `root` (an `<svg>`).
 * @param {SVGSVGElement} root
 * @param {number[]} buckets
 */
export function drawOverview(root, buckets) {
  const max = Math.max(1, ...buckets);
  const plotHeight = HEIGHT - PAD_BOTTOM - 8;
  const slot = (WIDTH - PAD_LEFT) / buckets.length;
  const total = buckets.reduce((a, b) => a + b, 0);
  root.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
  root.setAttribute(
    "aria-label",
    `${count(total)} migrations in the last ${MINUTES} minutes, ${
      count(buckets.at(-1) ?? 0)
    } this minute`,
  );
  const parts = [
    svg("line", {
      class: "lane",
      x1: PAD_LEFT,
      x2: WIDTH,
      y1: HEIGHT - PAD_BOTTOM,
      y2: HEIGHT - PAD_BOTTOM,
    }),
    svg("text", { class: "axis", x: PAD_LEFT - 4, y: 16, "text-anchor": "end" }, [String(max)]),
    svg("text", { class: "axis", x: PAD_LEFT - 4, y: HEIGHT - PAD_BOTTOM, "text-anchor": "end" }, [
      "0",
    ]),
    svg("text", { class: "axis", x: PAD_LEFT, y: HEIGHT - 4 }, [`−${MINUTES} min`]),
    svg("text", { class: "axis", x: WIDTH, y: HEIGHT - 4, "text-anchor": "end" }, ["now"]),
  ];
  buckets.forEach((n, i) => {
    const h = (plotHeight * n) / max;
    const ago = buckets.length - 1 - i;
    parts.push(
      svg("rect", {
        class: n > 0 ? "bar" : "bar empty",
        x: PAD_LEFT + i * slot + 1,
        y: HEIGHT - PAD_BOTTOM - Math.max(h, 1),
        width: Math.max(1, slot - 2),
        height: Math.max(h, 1),
      }, [
        svg("title", {}, [
          `${n} migration${n === 1 ? "" : "s"} ${ago === 0 ? "this minute" : `${ago} min ago`}`,
        ]),
      ]),
    );
  });
  root.replaceChildren(...parts);
}
