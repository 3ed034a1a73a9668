/**
 * Small helpers shared by the dashboard's views: building DOM and SVG elements, and formatting
 * durations, times and numbers.
 * @module
 */

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * Creates an HTML element with attributes and children (strings become text).
 * @param {string} tag
 * @param {Record<string, string | number | boolean | undefined>} [attrs]
 * @param {Array<Node | string | undefined>} [children]
 * @returns {HTMLElement}
 */
export function el(tag, attrs = {}, children = []) {
  return fill(document.createElement(tag), attrs, children);
}

/**
 * Creates an SVG element with attributes and children.
 * @param {string} tag
 * @param {Record<string, string | number | boolean | undefined>} [attrs]
 * @param {Array<Node | string | undefined>} [children]
 * @returns {SVGElement}
 */
export function svg(tag, attrs = {}, children = []) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

function fill(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child !== undefined) node.append(child);
  }
  return node;
}

/**
 * A duration in ms as "850 ms", "12 s", "3 min 4 s" or "2 h 5 min".
 * @param {number} ms
 * @returns {string}
 */
export function duration(ms) {
  if (!Number.isFinite(ms)) return "–";
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min ${s % 60} s`;
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}

/**
 * Milliseconds with one decimal below 10 ms: "3.8 ms", "14 ms".
 * @param {number | null | undefined} ms
 * @returns {string}
 */
export function millis(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/**
 * A wall-clock time as HH:MM:SS.mmm (local time).
 * @param {number} ms since the epoch
 * @returns {string}
 */
export function clock(ms) {
  const d = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${
    pad(d.getMilliseconds(), 3)
  }`;
}

/**
 * An integer with thousands separators.
 * @param {number} n
 * @returns {string}
 */
export function count(n) {
  return Number(n).toLocaleString("en-US");
}

/** Human words for the tracker's migration kinds. */
export const KIND_LABEL = {
  port_change: "port change",
  address_change: "address change",
  preferred_address: "hand-off to preferred address",
};

/** Human words for the tracker's outcomes. */
export const OUTCOME_LABEL = {
  pending: "pending",
  validated: "validated",
  reverted: "reverted",
  closed_before_validation: "closed before validation",
  connection_lost: "connection lost",
};
