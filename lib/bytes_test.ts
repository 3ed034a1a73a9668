import { strict as assert } from "node:assert";
import { sameBytes } from "./bytes.ts";

Deno.test("sameBytes: whole arrays and a range of the second", () => {
  const known = new Uint8Array([1, 2, 3]);
  assert.equal(sameBytes(known, new Uint8Array([1, 2, 3])), true);
  assert.equal(sameBytes(known, new Uint8Array([1, 2, 4])), false);
  assert.equal(sameBytes(known, new Uint8Array([1, 2])), false);
  assert.equal(sameBytes(new Uint8Array(0), new Uint8Array(0)), true);
  const bytes = new Uint8Array([9, 1, 2, 3, 9]);
  assert.equal(sameBytes(known, bytes, 1, 4), true);
  assert.equal(sameBytes(known, bytes, 0, 3), false);
  assert.equal(sameBytes(known, bytes, 1, 5), false);
});
