import { strict as assert } from "node:assert";
import { ConfigError } from "../cli/server_config.ts";
import { MAX_EVENTS, parseDuration, parseEventList, timeline } from "./events.ts";

Deno.test("parseDuration: ms, s, m and bare milliseconds", () => {
  assert.equal(parseDuration("500", "x"), 500);
  assert.equal(parseDuration("500ms", "x"), 500);
  assert.equal(parseDuration("1.5s", "x"), 1500);
  assert.equal(parseDuration("2m", "x"), 120_000);
  for (const bad of ["", "s", "-1s", "1h", "1.s", "2 s", "25h"]) {
    assert.throws(() => parseDuration(bad, "--x"), ConfigError, bad);
  }
  assert.throws(() => parseDuration("1441m", "--x"), /longer than a day/);
});

Deno.test("parseEventList: the issue's example, and blackouts with their duration", () => {
  assert.deepEqual(parseEventList("1s:rebind,2s:switch,3s:rebind,4s:switch", "--events"), [
    { kind: "rebind", atMs: 1000 },
    { kind: "switch", atMs: 2000 },
    { kind: "rebind", atMs: 3000 },
    { kind: "switch", atMs: 4000 },
  ]);
  assert.deepEqual(parseEventList("2.5s:blackout:300ms", "--events"), [
    { kind: "blackout", atMs: 2500, durationMs: 300 },
  ]);
});

Deno.test("parseEventList: every malformed entry is one line naming it", () => {
  const cases: Array<[string, RegExp]> = [
    ["1s", /"1s" is not TIME:EVENT/],
    ["1s:jump", /"jump" is not switch, rebind or blackout/],
    ["1s:blackout", /a blackout needs a duration/],
    ["1s:blackout:0", /duration > 0/],
    ["1s:rebind:5s", /rebind takes no duration/],
    ["x:switch", /"x" is not a duration/],
    ["1s:switch,,2s:switch", /"" is not TIME:EVENT/],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => parseEventList(value, "--events"), message);
  }
});

Deno.test("timeline: listed and periodic events merge in time order, listed first at a tie", () => {
  const events = [...timeline({
    events: [{ kind: "switch", atMs: 2000 }, { kind: "blackout", atMs: 500, durationMs: 100 }],
    periodic: [{ kind: "rebind", everyMs: 1000 }],
  })].slice(0, 5);
  assert.deepEqual(events.map((e) => `${e.kind}@${e.atMs}`), [
    "blackout@500",
    "rebind@1000",
    "switch@2000",
    "rebind@2000",
    "rebind@3000",
  ]);
});

Deno.test("timeline: a list alone ends; a periodic schedule is bounded by MAX_EVENTS", () => {
  assert.equal([...timeline({ events: [{ kind: "rebind", atMs: 0 }], periodic: [] })].length, 1);
  assert.equal([...timeline({ events: [], periodic: [] })].length, 0);
  let count = 0;
  for (const _ of timeline({ events: [], periodic: [{ kind: "switch", everyMs: 1 }] })) count++;
  assert.equal(count, MAX_EVENTS);
});
