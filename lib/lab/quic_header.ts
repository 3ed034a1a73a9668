/**
 * The public, unencrypted parts of a QUIC packet (RFC 9000 §17, RFC 8999 invariants): header
 * form, version, long-header packet type and the connection IDs. Sans-IO and pure: it reads the
 * first packet of a datagram and never throws; anything it cannot read is `null`.
 *
 * A short header does not carry its destination connection ID's length, so the caller passes
 * it. It is the length of the connection IDs the *receiver* of the packet chose:
 * - client → server short headers carry a DCID the server issued, as long as the SCID the
 *   server put in its long-header packets (Initial, Handshake);
 * - server → client short headers carry a DCID the client chose, as long as the SCID in the
 *   client's long-header packets.
 *
 * ```ts
 * const header = parseQuicHeader(datagram, 8);
 * if (header?.form === "long") console.log(header.type, hex(header.dcid), hex(header.scid!));
 * ```
 * @module
 */

/** Long-header packet types, plus version negotiation (a long header with version 0). */
export type QuicLongPacketType = "initial" | "0rtt" | "handshake" | "retry" | "version_negotiation";

/** What a QUIC packet shows on the wire before decryption. */
export interface QuicPublicHeader {
  /** Long headers (bit 0x80 set) carry a version and both connection IDs; short ones only a DCID. */
  form: "long" | "short";
  /** Long header only: the version field (0 for version negotiation). */
  version?: number;
  /** Long header only, for versions whose type bits we know (v1, v2) and version negotiation. */
  type?: QuicLongPacketType;
  /** Destination connection ID: a view into the datagram, not a copy. */
  dcid: Uint8Array;
  /** Long header only: source connection ID, a view into the datagram. */
  scid?: Uint8Array;
}

/** QUIC version 1 (RFC 9000). */
export const QUIC_VERSION_1 = 0x00000001;
/** QUIC version 2 (RFC 9369): same packets, different long-header type numbers. */
export const QUIC_VERSION_2 = 0x6b3343cf;

/** Connection IDs in v1 and v2 are at most 20 bytes (RFC 9000 §17.2). */
const MAX_CID_LENGTH_V1 = 20;

// Long-header type bits (0x30 of the first byte) per version.
const TYPES_V1: readonly QuicLongPacketType[] = ["initial", "0rtt", "handshake", "retry"];
const TYPES_V2: readonly QuicLongPacketType[] = ["retry", "initial", "0rtt", "handshake"];

/**
 * Parses the public header of the first QUIC packet in `datagram`. `shortHeaderDcidLength`
 * (0–20) is the DCID length to assume for a short header (see the module notes for whose it
 * is). Returns `null` for an empty, truncated or malformed header; never throws.
 */
export function parseQuicHeader(
  datagram: Uint8Array,
  shortHeaderDcidLength: number,
): QuicPublicHeader | null {
  if (datagram.length === 0) return null;
  const first = datagram[0];
  if ((first & 0x80) === 0) {
    const length = shortHeaderDcidLength;
    if (!Number.isInteger(length) || length < 0 || length > MAX_CID_LENGTH_V1) return null;
    if (datagram.length < 1 + length) return null;
    return { form: "short", dcid: datagram.subarray(1, 1 + length) };
  }
  // Long header: first byte, 4-byte version, DCID length + DCID, SCID length + SCID.
  if (datagram.length < 7) return null;
  const version = ((datagram[1] << 24) | (datagram[2] << 16) | (datagram[3] << 8) | datagram[4]) >>>
    0;
  const known = version === QUIC_VERSION_1 || version === QUIC_VERSION_2;
  // RFC 8999 lets unknown versions use IDs up to 255 bytes; v1 and v2 cap them at 20.
  const maxCid = known ? MAX_CID_LENGTH_V1 : 255;
  const dcidLength = datagram[5];
  if (dcidLength > maxCid) return null;
  const scidLengthAt = 6 + dcidLength;
  if (datagram.length < scidLengthAt + 1) return null;
  const scidLength = datagram[scidLengthAt];
  if (scidLength > maxCid) return null;
  const scidEnd = scidLengthAt + 1 + scidLength;
  if (datagram.length < scidEnd) return null;
  const header: QuicPublicHeader = {
    form: "long",
    version,
    dcid: datagram.subarray(6, scidLengthAt),
    scid: datagram.subarray(scidLengthAt + 1, scidEnd),
  };
  const typeBits = (first & 0x30) >> 4;
  if (version === 0) {
    // A version negotiation packet lists at least one 4-byte version after the IDs.
    const listLength = datagram.length - scidEnd;
    if (listLength < 4 || listLength % 4 !== 0) return null;
    header.type = "version_negotiation";
  } else if (version === QUIC_VERSION_1) {
    header.type = TYPES_V1[typeBits];
  } else if (version === QUIC_VERSION_2) {
    header.type = TYPES_V2[typeBits];
  }
  return header;
}

const HEX_DIGITS = "0123456789abcdef";

/** Lower-case hex of `bytes`, e.g. `hex(new Uint8Array([0x0a, 0xff]))` is `"0aff"`. */
export function hex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) {
    out += HEX_DIGITS[bytes[i] >> 4] + HEX_DIGITS[bytes[i] & 0x0f];
  }
  return out;
}
