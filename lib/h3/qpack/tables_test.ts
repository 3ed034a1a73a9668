import { strict as assert } from "node:assert";
// The spec tables are imported as text (no --allow-read needed), from the same location the
// generator uses: shared/ beside the repository root. The first test checks the two agree.
import staticTsv from "../../../../shared/specs/qpack-static-table.tsv" with { type: "text" };
import huffmanTsv from "../../../../shared/specs/hpack-huffman.tsv" with { type: "text" };
import committedStatic from "./_static_table_data.ts" with { type: "text" };
import committedHuffman from "./_huffman_data.ts" with { type: "text" };
import {
  HUFFMAN_OUT,
  HUFFMAN_TSV,
  parseTsv,
  renderHuffman,
  renderStaticTable,
  STATIC_TABLE_OUT,
  STATIC_TABLE_TSV,
} from "../../../scripts/gen_qpack_tables.ts";
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from "./_huffman_data.ts";
import {
  findStatic,
  STATIC_TABLE_SIZE,
  staticEntry,
  staticName,
  staticNameInfo,
  staticValue,
} from "./static_table.ts";

const REGEN = "stale: run `deno run --allow-read --allow-write scripts/gen_qpack_tables.ts`";

Deno.test("tables: the test reads the specs and outputs the generator uses", () => {
  const here = (p: string) => new URL(p, import.meta.url).href;
  assert.equal(here("../../../../shared/specs/qpack-static-table.tsv"), STATIC_TABLE_TSV.href);
  assert.equal(here("../../../../shared/specs/hpack-huffman.tsv"), HUFFMAN_TSV.href);
  assert.equal(here("./_static_table_data.ts"), STATIC_TABLE_OUT.href);
  assert.equal(here("./_huffman_data.ts"), HUFFMAN_OUT.href);
});

Deno.test("tables: committed _static_table_data.ts is up to date", () => {
  assert.equal(committedStatic, renderStaticTable(staticTsv), REGEN);
});

Deno.test("tables: committed _huffman_data.ts is up to date", () => {
  assert.equal(committedHuffman, renderHuffman(huffmanTsv), REGEN);
});

Deno.test("tables: parseTsv skips comments, tolerates CRLF and a missing last cell", () => {
  const rows = parseTsv("# c\r\na\tb\tc\r\n1\tx\t\r\n2\ty\r\n# late comment\n");
  assert.deepEqual(rows, [{ a: "1", b: "x", c: "" }, { a: "2", b: "y", c: "" }]);
  assert.throws(() => renderStaticTable("index\tname\tvalue\n0\t:path\t/\n"));
});

Deno.test("tables: Huffman code is complete (Kraft sum exactly 1) and EOS is 30 ones", () => {
  assert.equal(HUFFMAN_CODES.length, 257);
  assert.equal(HUFFMAN_LENGTHS.length, 257);
  let sum = 0n;
  for (let i = 0; i < 257; i++) sum += 1n << BigInt(30 - HUFFMAN_LENGTHS[i]);
  assert.equal(sum, 1n << 30n);
  assert.equal(HUFFMAN_LENGTHS[256], 30);
  assert.equal(HUFFMAN_CODES[256], 2 ** 30 - 1);
  assert.equal(Math.min(...HUFFMAN_LENGTHS), 5);
});

Deno.test("tables: static table has 99 entries matching RFC 9204 Appendix A spot checks", () => {
  assert.equal(STATIC_TABLE_SIZE, 99);
  assert.deepEqual(staticEntry(0), { name: ":authority", value: "" });
  assert.deepEqual(staticEntry(1), { name: ":path", value: "/" });
  assert.deepEqual(staticEntry(17), { name: ":method", value: "GET" });
  assert.deepEqual(staticEntry(25), { name: ":status", value: "200" });
  assert.deepEqual(staticEntry(29), { name: "accept", value: "*/*" });
  assert.deepEqual(staticEntry(46), { name: "content-type", value: "application/json" });
  assert.deepEqual(staticEntry(85), {
    name: "content-security-policy",
    value: "script-src 'none'; object-src 'none'; base-uri 'none'",
  });
  assert.deepEqual(staticEntry(98), { name: "x-frame-options", value: "sameorigin" });
  assert.equal(staticEntry(99), undefined);
  assert.equal(staticEntry(-1), undefined);
  for (let i = 0; i < 99; i++) {
    const e = staticEntry(i)!;
    assert.equal(staticName(i), e.name);
    assert.equal(staticValue(i), e.value);
    assert.equal(e.name, e.name.toLowerCase());
  }
});

Deno.test("tables: findStatic exact and name-only matches", () => {
  assert.deepEqual(findStatic(":status", "200"), { index: 25, exact: true });
  assert.deepEqual(findStatic(":status", "100"), { index: 63, exact: true });
  // Name-only: the smallest index with that name (cheapest to encode).
  assert.deepEqual(findStatic(":status", "201"), { index: 24, exact: false });
  assert.deepEqual(findStatic("content-length", "42"), { index: 4, exact: false });
  assert.deepEqual(findStatic("content-length", "0"), { index: 4, exact: true });
  assert.deepEqual(findStatic("user-agent", "curl/8"), { index: 95, exact: false });
  assert.deepEqual(findStatic(":authority", ""), { index: 0, exact: true });
  assert.equal(findStatic("x-connection-id", "1"), undefined);
  assert.equal(findStatic(":STATUS", "200"), undefined);
  assert.equal(staticNameInfo("content-type")?.values.get("text/css"), 51);
  // Every entry is found exactly at its own index (no duplicated name+value pairs).
  for (let i = 0; i < 99; i++) {
    const e = staticEntry(i)!;
    assert.deepEqual(findStatic(e.name, e.value), { index: i, exact: true });
  }
});
