/**
 * Tests of the sampling heap profile summary (`heap_profile.ts`): sites keyed by the allocating
 * frame and its callers, bytes from `selfSize`, sample counts from `samples`.
 */

import { strict as assert } from "node:assert";
import {
  frameLabel,
  type ProfileNode,
  type SamplingHeapProfile,
  sumBySite,
  totalBytes,
} from "./heap_profile.ts";

const ROOT = "file:///repo/";
let nextId = 1;

function node(
  name: string,
  url: string,
  line: number,
  selfSize: number,
  children: ProfileNode[] = [],
): ProfileNode {
  return {
    callFrame: { functionName: name, url, lineNumber: line, columnNumber: 0 },
    selfSize,
    id: nextId++,
    children,
  };
}

// (root) → serve → { getReader → Deferred (runtime, 300 B), read (200 B) }, and
// (root) → tick → read (50 B): the same allocating frame under two different callers.
const deferred = node("Deferred", "ext:deno_web/06_streams.js", 0, 300);
const getReader = node("getReader", "ext:deno_web/06_streams.js", 0, 0, [deferred]);
const readUnderServe = node("read", `${ROOT}lib/h3/body.ts`, 9, 200);
const serve = node("serve", `${ROOT}lib/h3/request_stream.ts`, 99, 0, [getReader, readUnderServe]);
const readUnderTick = node("read", `${ROOT}lib/h3/body.ts`, 9, 50);
const tick = node("", `${ROOT}lib/server/watch.ts`, 4, 0, [readUnderTick]);
const profile: SamplingHeapProfile = {
  head: node("(root)", "", -1, 0, [serve, tick]),
  samples: [
    { size: 64, nodeId: deferred.id },
    { size: 64, nodeId: deferred.id },
    { size: 32, nodeId: readUnderServe.id },
    { size: 16, nodeId: readUnderTick.id },
  ],
};

Deno.test("frameLabel shortens project URLs, keeps runtime ones, and counts lines from 1", () => {
  assert.equal(frameLabel(serve.callFrame, ROOT), "serve (lib/h3/request_stream.ts:100)");
  assert.equal(frameLabel(deferred.callFrame, ROOT), "Deferred (ext:deno_web/06_streams.js:1)");
  assert.equal(frameLabel(tick.callFrame, ROOT), "(anonymous) (lib/server/watch.ts:5)");
  assert.equal(frameLabel({ functionName: "(V8 API)", url: "", lineNumber: -1 }), "(V8 API)");
});

Deno.test("sumBySite keys a site by the allocating frame and its callers, largest first", () => {
  const sites = sumBySite(profile, { depth: 2, root: ROOT });
  assert.deepEqual(sites.map((s) => [s.stack, s.bytes, s.count]), [
    [
      ["Deferred (ext:deno_web/06_streams.js:1)", "getReader (ext:deno_web/06_streams.js:1)"],
      300,
      2,
    ],
    [["read (lib/h3/body.ts:10)", "serve (lib/h3/request_stream.ts:100)"], 200, 1],
    [["read (lib/h3/body.ts:10)", "(anonymous) (lib/server/watch.ts:5)"], 50, 1],
  ]);
});

Deno.test("sumBySite with depth 1 merges one frame's allocations from every caller", () => {
  const sites = sumBySite(profile, { depth: 1, root: ROOT });
  const read = sites.find((s) => s.stack[0] === "read (lib/h3/body.ts:10)");
  assert.deepEqual(read, { stack: ["read (lib/h3/body.ts:10)"], bytes: 250, count: 2 });
  assert.equal(sites.length, 2);
});

Deno.test("totalBytes adds every node, and agrees with the sites' sum", () => {
  assert.equal(totalBytes(profile), 550);
  const sum = sumBySite(profile, { depth: 3 }).reduce((n, s) => n + s.bytes, 0);
  assert.equal(sum, 550);
});

Deno.test("a profile without samples still gives bytes, with zero counts", () => {
  const sites = sumBySite({ head: profile.head }, { depth: 1, root: ROOT });
  assert.equal(sites[0].bytes, 300);
  assert.ok(sites.every((s) => s.count === 0));
});
