/**
 * `deno task docs`: rewrites the README's option table from the option table in `lib/cli/`
 * (and so the limits in `lib/limits.ts`). A test fails when the two disagree.
 * @module
 */

import { replaceOptionsTable } from "../lib/cli/options_table.ts";

const path = new URL("../README.md", import.meta.url);
const before = await Deno.readTextFile(path);
const after = replaceOptionsTable(before);
if (after === before) {
  console.log("README.md: the options table is up to date");
} else {
  await Deno.writeTextFile(path, after);
  console.log("README.md: options table rewritten");
}
