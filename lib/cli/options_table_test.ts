import { strict as assert } from "node:assert";
import { optionsTable, replaceOptionsTable, TABLE_BEGIN, TABLE_END } from "./options_table.ts";
import { OPTION_SPECS } from "./options.ts";
import { LIMIT_DEFINITIONS } from "../limits.ts";

Deno.test("options table: one row per option, each limit with its default and range", () => {
  const table = optionsTable();
  assert.equal(table.split("\n").length, OPTION_SPECS.length + 2);
  for (const limit of LIMIT_DEFINITIONS) {
    const row = table.split("\n").find((line) => line.startsWith(`| \`${limit.flag}\``));
    assert.ok(row, `${limit.flag} has a row`);
    assert.ok(row.includes(`\`${limit.envVar}\``));
    assert.ok(row.includes(`\`${limit.defaultValue}`), `${limit.flag} shows its default`);
    assert.ok(row.includes(`(${limit.min}-${limit.max})`), `${limit.flag} shows its range`);
  }
});

Deno.test("options table: the README's table is the generated one (run `deno task docs`)", async () => {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  assert.equal(
    readme,
    replaceOptionsTable(readme),
    "README.md's options table differs from lib/cli/: run `deno task docs`",
  );
});

Deno.test("options table: a README without markers is an error, not a silent pass", () => {
  assert.throws(() => replaceOptionsTable("# no table"), /markers/);
  const replaced = replaceOptionsTable(`a\n${TABLE_BEGIN}\nSTALE-ROW\n${TABLE_END}\nb`);
  assert.ok(replaced.includes(optionsTable()) && !replaced.includes("STALE-ROW"));
});
