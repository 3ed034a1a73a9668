/**
 * The connections the dashboard knows about: filled from `/api/connections`, kept current by
 * live events, filtered and sorted (most recent activity first) for the list view.
 * @module
 */

/**
 * @typedef {{state: "all" | "open" | "closed", protocol: string, migrated: boolean, search: string}} Filter
 */

/** Parses an ISO time once; records keep their parsed times in `_seen` and `_start`. */
function stamp(info) {
  info._seen = Date.parse(info.last_seen);
  info._start = Date.parse(info.start_time);
  return info;
}

/** Connections by id plus the filter the list shows. */
export class ConnectionStore {
  constructor() {
    /** @type {Map<string, any>} */
    this.byId = new Map();
    /** @type {Filter} */
    this.filter = { state: "all", protocol: "", migrated: false, search: "" };
    /** Totals from the last listing. */
    this.summary = null;
    /** True when the last listing hit the page limit. */
    this.truncated = false;
    /** True when a cluster node listed only its own connections (its store was unreachable). */
    this.localOnly = false;
  }

  /**
   * Replaces everything with a fresh listing.
   * @param {any[]} connections
   */
  replaceAll(connections) {
    this.byId = new Map(connections.map((c) => [c.connection_id, stamp(c)]));
  }

  /**
   * Whether `info` passes the server-side part of the filter (state, protocol, migrated).
   * @param {any} info
   */
  matches(info) {
    const f = this.filter;
    if (f.state !== "all" && info.state !== f.state) return false;
    if (f.protocol !== "" && info.protocol !== f.protocol) return false;
    if (f.migrated && info.migration_count === 0) return false;
    return true;
  }

  /**
   * Applies one event from `/api/events`. Returns the id of the connection it concerns.
   * @param {any} event
   * @returns {string | undefined}
   */
  apply(event) {
    switch (event.type) {
      case "connection_opened":
      case "migration":
      case "connection_closed": {
        const info = event.connection;
        if (this.matches(info)) this.byId.set(info.connection_id, stamp(info));
        else this.byId.delete(info.connection_id);
        return info.connection_id;
      }
      case "migration_outcome": {
        const info = this.byId.get(event.connection_id);
        const m = event.migration;
        const known = info?.migration_events.find((e) =>
          e.timestamp === m.timestamp && e.new_addr === m.new_addr
        );
        if (known) Object.assign(known, m);
        return event.connection_id;
      }
      default:
        return undefined;
    }
  }

  /**
   * Updates one connection from a fresher record (e.g. a detail fetch).
   * @param {any} info
   */
  update(info) {
    if (this.byId.has(info.connection_id) || this.matches(info)) {
      this.byId.set(info.connection_id, stamp({ ...info }));
    }
  }

  /**
   * The connections to list: filtered (including the text search), newest activity first.
   * @returns {any[]}
   */
  visible() {
    const needle = this.filter.search.trim().toLowerCase();
    const rows = [];
    for (const info of this.byId.values()) {
      if (!this.matches(info)) continue;
      if (
        needle !== "" && !info.connection_id.includes(needle) &&
        !info.remote_addr.toLowerCase().includes(needle)
      ) continue;
      rows.push(info);
    }
    return rows.sort((a, b) => b._seen - a._seen || b._start - a._start);
  }
}
