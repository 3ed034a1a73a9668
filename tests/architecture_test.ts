/**
 * The house's floors, declared once, and the test that keeps them: every module of the server
 * (`main.ts`, `lib/`, `routes/`; tests beside modules excluded) is on a declared floor, imports
 * only from its own floor or below, and no modules import each other in a loop. The graph is the
 * one Deno resolves (`deno info --json`), type imports included.
 */

import { strict as assert } from "node:assert";
import {
  findCycles,
  type Floor,
  floorOf,
  type ModuleGraph,
  moduleGraph,
  upwardImports,
} from "./support/module_graph.ts";

/** The floors, lowest first. A new folder or top-level `lib/` module must be placed here. */
export const FLOORS: readonly Floor[] = [
  {
    level: 0,
    name: "foundations: wire protocol, connection records, limits",
    paths: [
      "lib/h3/",
      "lib/tracker/",
      "lib/limits.ts",
      "lib/runtime_flags.ts",
      "lib/bounded_int.ts",
      "lib/http_error.ts",
      "lib/response_trailers.ts",
      "lib/light_response.ts",
      "lib/authority.ts",
      "lib/addr.ts",
      "lib/timeout.ts",
      "lib/bytes.ts",
    ],
  },
  {
    level: 1,
    name: "services: lab relay, history, metrics, access, options, certificates",
    paths: [
      "lib/lab/",
      "lib/store/",
      "lib/metrics/",
      "lib/access/",
      "lib/cli/",
      "lib/connection_env.ts",
      "lib/certs.ts",
      "lib/log.ts",
      "lib/download.ts",
      "lib/json_response.ts",
      "lib/json_body.ts",
      "lib/chromium_command.ts",
      "lib/udp_receive_buffer.ts",
    ],
  },
  {
    level: 2,
    name: "listeners, middleware, routes, tools",
    paths: [
      "lib/server/",
      "lib/middleware/",
      "routes/",
      "lib/migrate/",
      "lib/netlab/",
      "lib/cluster/",
    ],
  },
  { level: 3, name: "the Hono app", paths: ["lib/app.ts"] },
  { level: 4, name: "the composition root", paths: ["lib/start_server.ts"] },
  { level: 5, name: "the command line", paths: ["main.ts"] },
  { level: 6, name: "tests, benchmarks, scripts", paths: ["tests/", "bench/", "scripts/"] },
];

const ROOT = new URL("..", import.meta.url).pathname;

/** Every server module: main.ts and the non-test TypeScript under lib/ and routes/. */
async function serverModules(): Promise<string[]> {
  const found = ["main.ts"];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(`${ROOT}${dir}`)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (path.endsWith(".ts") && !path.endsWith("_test.ts")) found.push(path);
    }
  };
  await walk("lib");
  await walk("routes");
  return found.sort();
}

let graph: ModuleGraph | undefined;
async function serverGraph(): Promise<ModuleGraph> {
  return graph ??= await moduleGraph(ROOT, await serverModules());
}

Deno.test("architecture: every server module is on a declared floor", async () => {
  const modules = [...(await serverGraph()).keys()];
  assert.ok(modules.length > 50, `the graph holds the server (${modules.length} modules)`);
  const unplaced = modules.filter((path) => floorOf(FLOORS, path) === undefined);
  assert.deepEqual(unplaced, [], "place these in FLOORS (tests/architecture_test.ts)");
});

Deno.test("architecture: no module imports a floor above its own", async () => {
  const upward = upwardImports(await serverGraph(), FLOORS).map((edge) =>
    `${edge.from} (floor ${edge.fromLevel}) imports ${edge.to} (floor ${edge.toLevel})`
  );
  assert.deepEqual(upward, []);
});

Deno.test("architecture: no import cycle", async () => {
  assert.deepEqual(findCycles(await serverGraph()), []);
});

Deno.test("architecture: the checks catch a planted cycle and a planted upward import", () => {
  const planted: ModuleGraph = new Map([
    ["lib/h3/frame.ts", new Set(["lib/h3/varint.ts", "lib/app.ts"])],
    ["lib/h3/varint.ts", new Set(["lib/h3/frame_reader.ts"])],
    ["lib/h3/frame_reader.ts", new Set(["lib/h3/varint.ts"])],
    ["lib/app.ts", new Set(["lib/h3/frame.ts"])],
    ["lib/tracker/tracker.ts", new Set(["lib/tracker/tracker.ts"])],
  ]);
  assert.deepEqual(findCycles(planted).sort(), [
    ["lib/app.ts", "lib/h3/frame.ts"],
    ["lib/h3/frame_reader.ts", "lib/h3/varint.ts"],
    ["lib/tracker/tracker.ts"],
  ]);
  assert.deepEqual(upwardImports(planted, FLOORS), [
    { from: "lib/h3/frame.ts", fromLevel: 0, to: "lib/app.ts", toLevel: 3 },
  ]);
  assert.equal(floorOf(FLOORS, "lib/h3/qpack/decoder.ts")?.level, 0, "the longest prefix wins");
  assert.equal(floorOf(FLOORS, "lib/new_module.ts"), undefined, "an undeclared module is unplaced");
});
