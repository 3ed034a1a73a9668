import { strict as assert } from "node:assert";
import { SERVER_V8_OPTIONS, serverV8FlagsArg } from "./runtime_flags.ts";

Deno.test("runtime flags: one --v8-flags argument, a benchmark's own options after ours", () => {
  assert.equal(serverV8FlagsArg(), `--v8-flags=${SERVER_V8_OPTIONS.join(",")}`);
  assert.equal(
    serverV8FlagsArg(["--expose-gc"]),
    `--v8-flags=${[...SERVER_V8_OPTIONS, "--expose-gc"].join(",")}`,
  );
});

Deno.test("runtime flags: start, dev and compile run the server with them", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  for (const task of ["start", "dev", "compile"]) {
    const words: string[] = config.tasks[task].split(" ");
    const v8 = words.filter((word) => word.startsWith("--v8-flags"));
    assert.deepEqual(v8, [serverV8FlagsArg()], `deno task ${task}`);
    assert.ok(
      words.indexOf(v8[0]) < words.indexOf("main.ts"),
      `${task}: a Deno flag, before main.ts`,
    );
  }
});

Deno.test("runtime flags: V8 takes them (a Deno that rejects one exits at once)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", serverV8FlagsArg(), "console.log('up')"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, stderr);
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "up");
  assert.doesNotMatch(stderr, /unrecognized|error/i);
});
