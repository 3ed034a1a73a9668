import { strict as assert } from "node:assert";
import { runNetlab } from "./cli.ts";

async function run(args: string[]) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runNetlab(args, {
    stdout: (text) => stdout.push(text),
    stderr: (text) => stderr.push(text),
    env: {},
    handleSignals: false,
  });
  return { code, stdout: stdout.join(""), stderr: stderr.join("") };
}

Deno.test("netlab cli: bad arguments are one line on stderr and exit 2, before anything is built", async () => {
  for (
    const args of [
      ["--events", "1s:teleport", "--", "true"],
      ["--"],
      ["--ca", "/nonexistent/ca.pem", "--", "true"],
    ]
  ) {
    const result = await run(args);
    assert.equal(result.code, 2, JSON.stringify(result));
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /^error: .+ \(see netlab --help\)\n$/);
  }
});

Deno.test("netlab cli: --help prints the usage and exits 0", async () => {
  const result = await run(["--help"]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /^Runs a client program, unmodified, behind real NATs/);
  assert.equal(result.stderr, "");
});
