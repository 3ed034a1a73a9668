import { strict as assert } from "node:assert";
import { startTool } from "./tool_io.ts";
import { ConfigError } from "./server_config.ts";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t), env: {} },
  };
}

Deno.test("startTool: --help prints the help and ends with 0", async () => {
  const { out, err, io } = capture();
  const code = await startTool("demo", "usage: demo", io, () => ({ help: true }), () => 1);
  assert.equal(code, 0);
  assert.deepEqual(out, ["usage: demo\n"]);
  assert.deepEqual(err, []);
});

Deno.test("startTool: a bad option is one line and 2, from parsing or preparing", async () => {
  for (const where of ["parse", "prepare"]) {
    const { out, err, io } = capture();
    const code = await startTool("demo", "usage", io, () => {
      if (where === "parse") throw new ConfigError("--x: bad");
      return { help: false };
    }, () => {
      throw new ConfigError("--ca: unreadable");
    });
    assert.equal(code, 2);
    assert.deepEqual(out, []);
    assert.equal(err.length, 1);
    assert.match(err[0], /^error: --(x: bad|ca: unreadable) \(see demo --help\)\n$/);
  }
});

Deno.test("startTool: a ready tool gets its options, what was prepared and its outputs", async () => {
  const { io } = capture();
  const started = await startTool("demo", "usage", io, (env) => ({ help: false, env }), () => 42);
  assert.ok(typeof started !== "number");
  assert.equal(started.prepared, 42);
  assert.deepEqual(started.options.env, {});
  await assert.rejects(
    startTool(
      "demo",
      "usage",
      io,
      () => ({ help: false }),
      () => Promise.reject(new TypeError("x")),
    ),
    TypeError,
    "other errors propagate",
  );
});
