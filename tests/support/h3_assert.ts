/**
 * Helpers shared by the lib/h3 tests (not part of the public API).
 * @module
 */

import { strict as assert } from "node:assert";
import { H3Error } from "../../lib/h3/errors.ts";

/** Bytes from numbers: `bytes(0x40, 0x25)`. */
export function bytes(...b: number[]): Uint8Array {
  return Uint8Array.from(b);
}

/** Joins byte arrays into one. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Asserts that `fn` throws an `H3Error` with the given code (and scope, when given). */
export function assertH3Error(
  fn: () => unknown,
  code: number,
  scope?: "stream" | "connection",
): H3Error {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof H3Error, `expected H3Error, got ${caught}`);
  assert.equal(caught.code, code, caught.message);
  if (scope !== undefined) assert.equal(caught.scope, scope);
  return caught;
}
