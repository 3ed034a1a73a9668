import { strict as assert } from "node:assert";
import { attributeTail, overlapMs, parseTraceGc } from "./detection_tail.ts";

Deno.test("detection tail: trace-gc lines become pauses on performance.now()", () => {
  const lines = [
    "[7:0x5581]      753 ms: Mark-Compact 19.8 (27.8) -> 16.6 (28.1) MB, pooled: 0.0 MB, " +
    "24.82 / 0.00 ms  (average mu = 0.967, current mu = 0.967) testing; GC in old space requested",
    "[7:0x5581]     6826 ms: Scavenge 88.6 (115.6) -> 70.3 (119.3) MB, pooled: 0.0 MB, " +
    "14.50 / 0.00 ms  (average mu = 0.970, current mu = 0.974) allocation failure;",
    "[7:0x5581]     9000 ms: Incremental Mark-Compact 54.8 (101.1) -> 48.8 (101.1) MB, " +
    "pooled: 0.0 MB, 9.92 / 0.00 ms  (+ 42.6 ms in 201 steps since start of marking)",
    "bench server ready on 127.0.0.1:4433",
  ];
  const pauses = parseTraceGc(lines, 100);
  assert.deepEqual(pauses.map((p) => p.kind), [
    "Mark-Compact",
    "Scavenge",
    "Incremental Mark-Compact",
  ]);
  assert.equal(pauses[1].end, 6726);
  assert.equal(Math.round((pauses[1].end - pauses[1].start) * 100), 1450);
});

Deno.test("detection tail: overlap counts only the part inside the window", () => {
  const spans = [{ start: 0, end: 10 }, { start: 20, end: 30 }];
  assert.equal(overlapMs(spans, 5, 25), 10);
  assert.equal(overlapMs(spans, 10, 20), 0, "touching is not overlapping");
  assert.equal(overlapMs(spans, 40, 50), 0);
});

Deno.test("detection tail: slow detections are set against stalls and pauses", () => {
  const detections = [
    { at: 0, forwardedAt: 1, detectedAt: 2 }, // fast, no stall
    { at: 100, forwardedAt: 101, detectedAt: 120 }, // slow; a 16 ms stall, inside a GC pause
    { at: 200, forwardedAt: 210, detectedAt: 212 }, // slow; a 4 ms stall is not enough
    { at: 300, forwardedAt: 300.5, detectedAt: 301 }, // fast, but a stall in its window
  ];
  const stalls = [{ start: 102, end: 118 }, { start: 203, end: 207 }, { start: 300.2, end: 300.4 }];
  const pauses = [{ kind: "Scavenge", start: 103, end: 117 }];
  const report = attributeTail(detections, stalls, pauses, 5);
  assert.equal(report.detections, 4);
  assert.equal(report.slow, 2);
  assert.equal(report.slowWithGc, 1);
  assert.equal(report.slowWithStall, 2);
  assert.equal(report.slowOnlyByStalls, 1, "20 − 16 ms is within 5 ms; 12 − 4 ms is not");
  assert.deepEqual(report.unstalledMs, [2]);
  assert.equal(report.scavenges, 1);
  assert.deepEqual(report.scavengePausesMs, [14]);
  // Client parts: 1 + 10 ms, stalled 0 + 4 (203–207 lies before 210). Server parts: 19 + 2 ms,
  // stalled 16.
  assert.equal(Math.round(report.clientPartStalledShare * 1000), Math.round((4 / 11) * 1000));
  assert.equal(Math.round(report.serverPartStalledShare * 1000), Math.round((16 / 21) * 1000));
  assert.equal(report.spanMs, 301);
  assert.equal(Math.round(report.stalledShare * 1000), Math.round((20.2 / 301) * 1000));
  assert.equal(Math.round(report.gcShare * 1000), Math.round((14 / 301) * 1000));
});
