/**
 * How the migration watcher cuts a round over all connections into slices: how many slices,
 * how many reads each, and how far apart. Pure arithmetic, so the schedule is tested apart from
 * timers.
 * @module
 */

/** Slices come at most this often, so a tiny interval does not turn into a busy loop. */
export const MIN_SLICE_SPACING_MS = 1;

/** One round's schedule. */
export interface SliceSchedule {
  /** Slices per round (at least 1). */
  slices: number;
  /** Connections each slice reads: together at least every connection once. */
  readsPerSlice: number;
  /** Milliseconds between slices: the slices of a round fill the interval. */
  spacingMs: number;
}

/**
 * The schedule for `connections` watched connections: as few slices as keep each at or under
 * `maxReadsPerSlice` reads, unless that would put slices closer than
 * {@link MIN_SLICE_SPACING_MS}; then each slice reads more, and a round still takes one interval.
 */
export function sliceRounds(
  connections: number,
  intervalMs: number,
  maxReadsPerSlice: number,
): SliceSchedule {
  const most = Math.max(1, Math.floor(intervalMs / MIN_SLICE_SPACING_MS));
  const slices = Math.min(
    most,
    Math.max(1, Math.ceil(connections / Math.max(1, maxReadsPerSlice))),
  );
  return {
    slices,
    readsPerSlice: Math.ceil(connections / slices),
    spacingMs: intervalMs / slices,
  };
}
