/**
 * The HTTP/3 SETTINGS frame (RFC 9114 §7.2.4): setting identifiers, encoding our own settings
 * and decoding the peer's into a typed object.
 *
 * ```ts
 * const frame = encodeSettings(defaultLocalSettings({ maxFieldSectionSize: 16384 }));
 * const peer = decodeSettings(payload); // peer.maxFieldSectionSize === Infinity if absent
 * ```
 * @module
 */

import { H3_FRAME_ERROR, H3_SETTINGS_ERROR, H3Error } from "./errors.ts";
import {
  encodeFrameHeader,
  FRAME_SETTINGS,
  frameHeaderSize,
  isGreaseValue,
  randomGreaseValue,
} from "./frame.ts";
import { encodeVarint, readVarint, readVarintBig, varintLength, varintSize } from "./varint.ts";

/** SETTINGS_QPACK_MAX_TABLE_CAPACITY (RFC 9204 §5); default 0. */
export const SETTINGS_QPACK_MAX_TABLE_CAPACITY = 0x01;
/** SETTINGS_MAX_FIELD_SECTION_SIZE (RFC 9114 §7.2.4.1); default unlimited. */
export const SETTINGS_MAX_FIELD_SECTION_SIZE = 0x06;
/** SETTINGS_QPACK_BLOCKED_STREAMS (RFC 9204 §5); default 0. */
export const SETTINGS_QPACK_BLOCKED_STREAMS = 0x07;
/** SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220). Known but not used by this server. */
export const SETTINGS_ENABLE_CONNECT_PROTOCOL = 0x08;
/** SETTINGS_H3_DATAGRAM (RFC 9297). Known but not used by this server. */
export const SETTINGS_H3_DATAGRAM = 0x33;

/**
 * Whether `id` is an HTTP/2 setting with no HTTP/3 counterpart (0x00, 0x02, 0x03, 0x04, 0x05;
 * §11.2.2). Such settings MUST NOT be sent, and receiving one is a connection error of type
 * H3_SETTINGS_ERROR (§7.2.4.1).
 */
export function isReservedHttp2Setting(id: number): boolean {
  return id === 0x00 || (id >= 0x02 && id <= 0x05);
}

/** The peer's settings, as decoded from its SETTINGS frame. */
export interface PeerSettings {
  /** QPACK dynamic table capacity the peer's decoder allows; 0 when absent. */
  qpackMaxTableCapacity: number;
  /** Largest field section the peer accepts (§4.2.2); Infinity when absent. */
  maxFieldSectionSize: number;
  /** Streams the peer's decoder lets be blocked; 0 when absent. */
  qpackBlockedStreams: number;
  /**
   * Every other setting, by identifier: ENABLE_CONNECT_PROTOCOL, H3_DATAGRAM and unknown ones.
   * Grease identifiers (§7.2.4.1) and identifiers above 2^53-1 are left out.
   */
  unknown: Map<number, number>;
}

/** The settings a peer is assumed to have before its SETTINGS frame arrives (§7.2.4.2). */
export function defaultPeerSettings(): PeerSettings {
  return {
    qpackMaxTableCapacity: 0,
    maxFieldSectionSize: Infinity,
    qpackBlockedStreams: 0,
    unknown: new Map(),
  };
}

/**
 * Decodes a complete SETTINGS payload (the bytes after the frame header). Throws an H3Error,
 * always a connection error: H3_SETTINGS_ERROR for a reserved HTTP/2 identifier (§7.2.4.1)
 * or a duplicate identifier (§7.2.4 allows treating it so); H3_FRAME_ERROR when the payload
 * ends inside a setting (§7.1). Unknown identifiers are ignored (§7.2.4).
 */
export function decodeSettings(payload: Uint8Array): PeerSettings {
  const settings = defaultPeerSettings();
  const end = payload.length;
  let seenKnown = 0; // bit per known identifier: 1, 6, 7
  let seenOther: Set<number | bigint> | undefined;
  let pos = 0;
  while (pos < end) {
    const idSize = varintLength(payload[pos]);
    const valueAt = pos + idSize;
    if (valueAt >= end || valueAt + varintLength(payload[valueAt]) > end) {
      throw new H3Error(H3_FRAME_ERROR, "connection", "SETTINGS payload ends inside a setting");
    }
    const id = readVarint(payload, pos);
    const value = readVarint(payload, valueAt);
    pos = valueAt + varintLength(payload[valueAt]);

    if (isReservedHttp2Setting(id)) {
      throw new H3Error(H3_SETTINGS_ERROR, "connection", `reserved HTTP/2 setting 0x${hex(id)}`);
    }
    if (
      id === SETTINGS_QPACK_MAX_TABLE_CAPACITY || id === SETTINGS_MAX_FIELD_SECTION_SIZE ||
      id === SETTINGS_QPACK_BLOCKED_STREAMS
    ) {
      const bit = 1 << id;
      if (seenKnown & bit) throw duplicate(id);
      seenKnown |= bit;
      if (id === SETTINGS_QPACK_MAX_TABLE_CAPACITY) settings.qpackMaxTableCapacity = value;
      else if (id === SETTINGS_MAX_FIELD_SECTION_SIZE) settings.maxFieldSectionSize = value;
      else settings.qpackBlockedStreams = value;
      continue;
    }
    // Identifiers above 2^53-1 are compared exactly, so that two of them never look alike.
    const key = id > Number.MAX_SAFE_INTEGER ? readVarintBig(payload, valueAt - idSize) : id;
    seenOther ??= new Set();
    if (seenOther.has(key)) throw duplicate(id);
    seenOther.add(key);
    if (typeof key === "number" && !isGreaseValue(key)) settings.unknown.set(key, value);
  }
  return settings;
}

/**
 * Encodes a whole SETTINGS frame (type, length and payload) from `[identifier, value]` pairs,
 * in the order given. Throws a RangeError for a reserved HTTP/2 identifier or a duplicate,
 * which must never be sent (§7.2.4, §7.2.4.1).
 */
export function encodeSettings(entries: ReadonlyArray<readonly [number, number]>): Uint8Array {
  let length = 0;
  const seen = new Set<number>();
  for (const [id, value] of entries) {
    if (isReservedHttp2Setting(id)) throw new RangeError(`setting 0x${hex(id)} is reserved`);
    if (seen.has(id)) throw new RangeError(`setting 0x${hex(id)} given twice`);
    seen.add(id);
    length += varintSize(id) + varintSize(value);
  }
  const out = new Uint8Array(frameHeaderSize(FRAME_SETTINGS, length) + length);
  let at = encodeFrameHeader(FRAME_SETTINGS, length, out, 0);
  for (const [id, value] of entries) {
    at = encodeVarint(value, out, encodeVarint(id, out, at));
  }
  return out;
}

/** Options for {@linkcode defaultLocalSettings}. */
export interface LocalSettingsOptions {
  /** SETTINGS_MAX_FIELD_SECTION_SIZE to advertise; default 16384. */
  maxFieldSectionSize?: number;
  /** Whether to add one grease setting with a random identifier and value; default true. */
  grease?: boolean;
}

/**
 * The settings this server sends: no QPACK dynamic table (capacity 0, 0 blocked streams),
 * the given MAX_FIELD_SECTION_SIZE, and one grease setting (§7.2.4.1: endpoints SHOULD
 * include at least one). Pass the result to {@linkcode encodeSettings}.
 */
export function defaultLocalSettings(options: LocalSettingsOptions = {}): Array<[number, number]> {
  const entries: Array<[number, number]> = [
    [SETTINGS_QPACK_MAX_TABLE_CAPACITY, 0],
    [SETTINGS_QPACK_BLOCKED_STREAMS, 0],
    [SETTINGS_MAX_FIELD_SECTION_SIZE, options.maxFieldSectionSize ?? 16384],
  ];
  if (options.grease ?? true) {
    const value = crypto.getRandomValues(new Uint32Array(1))[0];
    entries.push([randomGreaseValue(), value]);
  }
  return entries;
}

function duplicate(id: number): H3Error {
  return new H3Error(H3_SETTINGS_ERROR, "connection", `setting 0x${hex(id)} appears twice`);
}

function hex(n: number): string {
  return n.toString(16);
}
