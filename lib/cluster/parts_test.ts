import { strict as assert } from "node:assert";
import { NODE_RUN_FLAGS, nodeCommand } from "./parts.ts";

Deno.test("a node runs with exactly the flags of `deno task start`", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const start: string[] = config.tasks.start.split(" ");
  assert.deepEqual(start.slice(start.indexOf("run") + 1, start.indexOf("main.ts")), NODE_RUN_FLAGS);
  const { command, prefix } = nodeCommand();
  assert.equal(command, Deno.execPath(), "the same deno executable");
  assert.equal(prefix[0], "run");
  assert.ok(prefix.at(-1)!.endsWith("/main.ts"), prefix.join(" "));
  assert.ok(prefix[prefix.indexOf("--config") + 1].endsWith("/deno.json"));
});
