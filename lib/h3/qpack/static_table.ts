/**
 * The QPACK static table (RFC 9204 Appendix A, 99 entries) with lookups built once at load.
 *
 * ```ts
 * staticEntry(17); // { name: ":method", value: "GET" }
 * findStatic(":status", "200"); // { index: 25, exact: true }
 * findStatic(":status", "201"); // { index: 24, exact: false }
 * ```
 * @module
 */

import { STATIC_TABLE_FLAT } from "./_static_table_data.ts";

/** Number of entries in the static table. */
export const STATIC_TABLE_SIZE: number = STATIC_TABLE_FLAT.length / 2;

/** One static table entry. */
export interface StaticEntry {
  /** Field name (lowercase). */
  readonly name: string;
  /** Field value, possibly empty. */
  readonly value: string;
}

/** Everything the static table knows about one field name. */
export interface StaticNameInfo {
  /** The smallest index whose name matches (the cheapest name reference). */
  readonly nameIndex: number;
  /** Index of each value listed for this name. */
  readonly values: ReadonlyMap<string, number>;
}

const ENTRIES: readonly StaticEntry[] = Array.from(
  { length: STATIC_TABLE_SIZE },
  (_, i) => Object.freeze({ name: STATIC_TABLE_FLAT[2 * i], value: STATIC_TABLE_FLAT[2 * i + 1] }),
);

const BY_NAME: ReadonlyMap<string, StaticNameInfo> = (() => {
  const map = new Map<string, { nameIndex: number; values: Map<string, number> }>();
  ENTRIES.forEach(({ name, value }, index) => {
    let info = map.get(name);
    if (info === undefined) {
      info = { nameIndex: index, values: new Map() };
      map.set(name, info);
    }
    if (!info.values.has(value)) info.values.set(value, index);
  });
  return map;
})();

/** Returns the static table entry at `index`, or `undefined` when `index` is out of range. */
export function staticEntry(index: number): StaticEntry | undefined {
  return ENTRIES[index];
}

/** Returns the field name of static entry `index`; the caller guarantees `index` is in range. */
export function staticName(index: number): string {
  return STATIC_TABLE_FLAT[2 * index];
}

/** Returns the field value of static entry `index`; the caller guarantees `index` is in range. */
export function staticValue(index: number): string {
  return STATIC_TABLE_FLAT[2 * index + 1];
}

/**
 * Returns the static table's knowledge of field name `name` (its cheapest name index and the
 * index of each of its values), or `undefined` when no entry has that name. Allocation-free; this
 * is what the encoder uses.
 */
export function staticNameInfo(name: string): StaticNameInfo | undefined {
  return BY_NAME.get(name);
}

/**
 * Finds the best static entry for a field: `{ index, exact: true }` when both name and value
 * match, `{ index, exact: false }` (the smallest index with that name) when only the name
 * matches, `undefined` when the name is not in the table.
 */
export function findStatic(
  name: string,
  value: string,
): { index: number; exact: boolean } | undefined {
  const info = BY_NAME.get(name);
  if (info === undefined) return undefined;
  const exact = info.values.get(value);
  return exact === undefined
    ? { index: info.nameIndex, exact: false }
    : { index: exact, exact: true };
}
