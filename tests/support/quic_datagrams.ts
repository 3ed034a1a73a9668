/**
 * Test datagrams that look like a QUIC client's first flight from the outside: a long-header
 * Initial of a chosen version, size and connection IDs, whose encrypted part is filler. A server
 * cannot decrypt it, so it never answers; a relay that reads only headers must take it for a
 * handshake. Used to test the lab relay's admission rules and to play the junk-Initial attacker.
 *
 * ```ts
 * const datagram = clientInitialDatagram({ size: 1200 });
 * await socket.send(datagram, relayAddr);
 * ```
 * @module
 */

import { QUIC_VERSION_1, QUIC_VERSION_2 } from "../../lib/lab/quic_header.ts";

/** What to vary in a {@link clientInitialDatagram}. */
export interface InitialShape {
  /** UDP payload size (default 1200, the least a client may send). */
  size?: number;
  /** Default QUIC v1. */
  version?: number;
  /** Long-header type bits (0x30 of the first byte); default: Initial for the version. */
  typeBits?: number;
  /** Default 8 bytes from `seed`. */
  dcid?: readonly number[];
  /** Default 8 bytes from `seed`. */
  scid?: readonly number[];
  /** Varies the connection IDs and filler (default 1). */
  seed?: number;
}

/** The type bits of an Initial in each version (RFC 9000 §17.2, RFC 9369 §3.2). */
function initialTypeBits(version: number): number {
  return version === QUIC_VERSION_2 ? 1 : 0;
}

/**
 * A long-header Initial padded to `size` bytes: version, connection IDs, an empty token, and a
 * Length field covering the rest of the datagram. Sizes under 1200 make the short datagrams a
 * relay must refuse.
 */
export function clientInitialDatagram(shape: InitialShape = {}): Uint8Array {
  const size = shape.size ?? 1200;
  const version = shape.version ?? QUIC_VERSION_1;
  const seed = shape.seed ?? 1;
  const ids = (n: number) => Array.from({ length: 8 }, (_, i) => (seed * 31 + i * 7 + n) & 0xff);
  const dcid = shape.dcid ?? ids(0);
  const scid = shape.scid ?? ids(128);
  const typeBits = shape.typeBits ?? initialTypeBits(version);
  const header = [
    0xc0 | (typeBits << 4) | 0x03, // long header, fixed bit, type, 4-byte packet number
    version >>> 24,
    (version >>> 16) & 0xff,
    (version >>> 8) & 0xff,
    version & 0xff,
    dcid.length,
    ...dcid,
    scid.length,
    ...scid,
    0x00, // token length
  ];
  const datagram = new Uint8Array(size);
  datagram.set(header.slice(0, size));
  // A 2-byte Length covering everything after it.
  const at = header.length;
  const rest = size - at - 2;
  if (rest > 0) {
    datagram[at] = 0x40 | ((rest >> 8) & 0x3f);
    datagram[at + 1] = rest & 0xff;
  }
  for (let i = at + 2; i < size; i++) datagram[i] = (i * 131 + seed * 17) & 0xff;
  return datagram;
}

export { QUIC_VERSION_1, QUIC_VERSION_2 };
