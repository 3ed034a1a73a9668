/**
 * Where a slow migration detection spent its time: each detection's window (rebinding → the
 * tracker's event) is set against the event loop's stalls and V8's garbage-collection pauses
 * recorded in the same server process. Pure: `bench/tools/detection_tail.ts` gathers the
 * records, this sums them (and is tested on its own).
 *
 * ```ts
 * const pauses = parseTraceGc(lines, offsetMs); // `--trace-gc` lines, on performance.now()
 * const report = attributeTail(detections, stalls, pauses, 5);
 * ```
 * @module
 */

/** A span of time on the server's `performance.now()` clock, in ms. */
export interface Span {
  start: number;
  end: number;
}

/** One garbage collection, as `--trace-gc` printed it. */
export interface GcPause extends Span {
  kind: string;
}

/** One detected rebinding. */
export interface DetectionWindow {
  /** The rebinding (`performance.now()` in the server). */
  at: number;
  /** The relay passed the client's first datagram to the new mapping, or null. */
  forwardedAt: number | null;
  /** The tracker reported the migration. */
  detectedAt: number;
}

/** What the slow detections overlapped. */
export interface TailReport {
  detections: number;
  /** Detections slower than the threshold. */
  slow: number;
  /** Slow detections whose window overlaps a garbage-collection pause. */
  slowWithGc: number;
  /** Slow detections whose window overlaps an event-loop stall. */
  slowWithStall: number;
  /** Slow detections within the threshold once the stalled time in their window is taken out. */
  slowOnlyByStalls: number;
  /** Of the slow detections' time before the relay forwarded, the share spent in stalls. */
  clientPartStalledShare: number;
  /** Of the slow detections' time after the relay forwarded, the share spent in stalls. */
  serverPartStalledShare: number;
  /** Detections whose window overlaps no stall: their delays. */
  unstalledMs: number[];
  /** From the first rebinding to the last detection: ms. */
  spanMs: number;
  /** Share of the span the event loop was stalled. */
  stalledShare: number;
  /** Share of the span in garbage-collection pauses (all kinds). */
  gcShare: number;
  /** Scavenges (young-generation collections) in the span. */
  scavenges: number;
  /** Their pauses, ms. */
  scavengePausesMs: number[];
}

// `[pid:0x…]     1234 ms: Scavenge 88.6 (115.6) -> 70.3 (119.3) MB, pooled: 0.0 MB, 14.50 / 0.00 ms …`
const TRACE_GC =
  /\s(\d+) ms: ([A-Za-z][A-Za-z -]*?) [\d.]+ \([\d.]+\) -> .*?, ([\d.]+) \/ [\d.]+ ms/;

/**
 * The pauses in V8's `--trace-gc` lines. A line's time is when the collection ended, in ms since
 * the isolate started; `offsetMs` is that clock minus `performance.now()`.
 */
export function parseTraceGc(lines: Iterable<string>, offsetMs: number): GcPause[] {
  const pauses: GcPause[] = [];
  for (const line of lines) {
    const match = TRACE_GC.exec(line);
    if (match === null) continue;
    const end = Number(match[1]) - offsetMs;
    pauses.push({ kind: match[2], start: end - Number(match[3]), end });
  }
  return pauses;
}

/** Milliseconds of `spans` inside `[start, end]` (the spans do not overlap each other). */
export function overlapMs(spans: readonly Span[], start: number, end: number): number {
  let ms = 0;
  for (const span of spans) {
    if (span.end <= start || span.start >= end) continue;
    ms += Math.min(end, span.end) - Math.max(start, span.start);
  }
  return ms;
}

/** Sets each detection against the stalls and pauses; "slow" is above `thresholdMs`. */
export function attributeTail(
  detections: readonly DetectionWindow[],
  stalls: readonly Span[],
  pauses: readonly GcPause[],
  thresholdMs: number,
): TailReport {
  const first = Math.min(...detections.map((d) => d.at));
  const last = Math.max(...detections.map((d) => d.detectedAt));
  const inSpan = pauses.filter((p) => p.end > first && p.start < last);
  const scavenges = inSpan.filter((p) => p.kind === "Scavenge");
  let slow = 0, slowWithGc = 0, slowWithStall = 0, slowOnlyByStalls = 0;
  let clientMs = 0, clientStalled = 0, serverMs = 0, serverStalled = 0;
  const unstalledMs: number[] = [];
  for (const d of detections) {
    const ms = d.detectedAt - d.at;
    const stalled = overlapMs(stalls, d.at, d.detectedAt);
    if (stalled === 0) unstalledMs.push(ms);
    if (ms <= thresholdMs) continue;
    slow++;
    if (overlapMs(inSpan, d.at, d.detectedAt) > 0) slowWithGc++;
    if (stalled > 0) slowWithStall++;
    if (ms - stalled <= thresholdMs) slowOnlyByStalls++;
    const split = d.forwardedAt ?? d.at;
    clientMs += split - d.at;
    clientStalled += overlapMs(stalls, d.at, split);
    serverMs += d.detectedAt - split;
    serverStalled += overlapMs(stalls, split, d.detectedAt);
  }
  const spanMs = last - first;
  return {
    detections: detections.length,
    slow,
    slowWithGc,
    slowWithStall,
    slowOnlyByStalls,
    clientPartStalledShare: clientMs === 0 ? 0 : clientStalled / clientMs,
    serverPartStalledShare: serverMs === 0 ? 0 : serverStalled / serverMs,
    unstalledMs,
    spanMs,
    stalledShare: overlapMs(stalls, first, last) / spanMs,
    gcShare: overlapMs(inSpan, first, last) / spanMs,
    scavenges: scavenges.length,
    scavengePausesMs: scavenges.map((p) => p.end - p.start),
  };
}
