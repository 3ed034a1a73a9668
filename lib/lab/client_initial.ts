/**
 * Whether a datagram from an address the lab relay does not know may open a session: only the
 * first flight of a real QUIC handshake may. Sans-IO and pure; it reads public header fields
 * only (RFC 9000 §17.2.2) and never throws.
 *
 * A client's first datagram carries an Initial packet of a version we speak, in a UDP payload of
 * at least 1200 bytes (RFC 9000 §14.1), to a destination connection ID of at least 8 bytes it
 * chose at random (§7.2). Asking for all of that means a session costs a sender a full-size,
 * well-formed datagram, and lets the relay drop stray and truncated junk without a socket.
 *
 * ```ts
 * const problem = clientInitialProblem(datagram);
 * if (problem !== null) dropped[problem]++;
 * ```
 * @module
 */

import { decodeVarint, varintLength } from "../h3/varint.ts";
import { parseQuicHeader, QUIC_VERSION_1, QUIC_VERSION_2 } from "./quic_header.ts";

/** Smallest UDP payload that may carry a client's Initial (RFC 9000 §14.1). */
export const MIN_CLIENT_INITIAL_DATAGRAM = 1200;

/** Smallest DCID in a client's first Initial (RFC 9000 §7.2). */
export const MIN_CLIENT_INITIAL_DCID = 8;

/** Why a datagram cannot open a session. */
export type ClientInitialProblem =
  /** Under 1200 bytes. */
  | "too_short"
  /** A short header, or a long header that cannot be parsed. */
  | "not_long_header"
  /** A long header of a version other than QUIC v1 and v2. */
  | "unsupported_version"
  /** A v1 or v2 long header that is not an Initial (0-RTT, Handshake, Retry). */
  | "not_initial"
  /** An Initial whose DCID, token or length field does not fit a client's first packet. */
  | "malformed_initial";

/**
 * Null when `datagram` can be a client's first datagram (a full-size QUIC v1/v2 Initial);
 * otherwise why not.
 */
export function clientInitialProblem(datagram: Uint8Array): ClientInitialProblem | null {
  if (datagram.length < MIN_CLIENT_INITIAL_DATAGRAM) return "too_short";
  const header = parseQuicHeader(datagram, 0);
  if (header === null || header.form !== "long") return "not_long_header";
  if (header.version !== QUIC_VERSION_1 && header.version !== QUIC_VERSION_2) {
    return "unsupported_version";
  }
  if (header.type !== "initial") return "not_initial";
  if (header.dcid.length < MIN_CLIENT_INITIAL_DCID) return "malformed_initial";
  // After the SCID: token length, token, then the length of the rest of the packet.
  let at = header.scid!.byteOffset - datagram.byteOffset + header.scid!.length;
  const tokenLength = decodeVarint(datagram, at);
  if (tokenLength < 0) return "malformed_initial";
  at += varintLength(datagram[at]) + tokenLength;
  const packetLength = decodeVarint(datagram, at);
  if (packetLength < 0) return "malformed_initial";
  at += varintLength(datagram[at]);
  // The rest holds a packet number (1-4 bytes) and a payload with at least a 16-byte AEAD tag.
  if (packetLength < 20 || at + packetLength > datagram.length) return "malformed_initial";
  return null;
}
