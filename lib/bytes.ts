/**
 * Byte comparison, the one the whole server uses: request heads repeated on a connection, QUIC
 * connection IDs in the lab, certificates on disk.
 * @module
 */

/**
 * Whether `bytes[from, to)` (all of `bytes` by default) holds exactly the bytes of `known`. Not
 * constant-time: for data, not for secrets.
 */
export function sameBytes(
  known: Uint8Array,
  bytes: Uint8Array,
  from = 0,
  to = bytes.length,
): boolean {
  const n = known.length;
  if (n !== to - from) return false;
  for (let i = 0; i < n; i++) if (known[i] !== bytes[from + i]) return false;
  return true;
}
