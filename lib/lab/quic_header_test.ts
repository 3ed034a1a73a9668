import { strict as assert } from "node:assert";
import { hex, parseQuicHeader, QUIC_VERSION_1, QUIC_VERSION_2 } from "./quic_header.ts";

/** Builds a long-header packet: first byte, version, DCID, SCID, then `rest`. */
function longPacket(
  first: number,
  version: number,
  dcid: number[],
  scid: number[],
  rest: number[] = [0x00, 0x41, 0x00, 0x01, 0xaa, 0xbb],
): Uint8Array {
  return new Uint8Array([
    first,
    version >>> 24,
    (version >>> 16) & 0xff,
    (version >>> 8) & 0xff,
    version & 0xff,
    dcid.length,
    ...dcid,
    scid.length,
    ...scid,
    ...rest,
  ]);
}

const DCID = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
const SCID = [0xf0, 0x67, 0xa5, 0x50, 0x2a, 0x42, 0x62, 0xb5];

Deno.test("quic header: a v1 Initial shows version, type and both connection IDs", () => {
  const packet = longPacket(0xc3, QUIC_VERSION_1, DCID, SCID);
  const header = parseQuicHeader(packet, 8);
  assert.ok(header);
  assert.equal(header.form, "long");
  assert.equal(header.version, 1);
  assert.equal(header.type, "initial");
  assert.equal(hex(header.dcid), "8394c8f03e515708");
  assert.equal(hex(header.scid!), "f067a5502a4262b5");
  assert.equal(header.dcid.buffer, packet.buffer, "the DCID is a view, not a copy");
});

Deno.test("quic header: v1 Handshake, 0-RTT and Retry, and the v2 type numbering", () => {
  assert.equal(parseQuicHeader(longPacket(0xe0, QUIC_VERSION_1, DCID, SCID), 8)?.type, "handshake");
  assert.equal(parseQuicHeader(longPacket(0xd0, QUIC_VERSION_1, DCID, SCID), 8)?.type, "0rtt");
  assert.equal(parseQuicHeader(longPacket(0xf0, QUIC_VERSION_1, DCID, SCID), 8)?.type, "retry");
  assert.equal(parseQuicHeader(longPacket(0xd0, QUIC_VERSION_2, DCID, SCID), 8)?.type, "initial");
  assert.equal(parseQuicHeader(longPacket(0xc0, QUIC_VERSION_2, DCID, SCID), 8)?.type, "retry");
});

Deno.test("quic header: an empty SCID and an unknown version parse without a type", () => {
  const header = parseQuicHeader(longPacket(0xc0, 0x1a2a3a4a, DCID, []), 8);
  assert.ok(header);
  assert.equal(header.version, 0x1a2a3a4a);
  assert.equal(header.type, undefined);
  assert.equal(header.scid!.length, 0);
});

Deno.test("quic header: a short header takes the DCID length from the caller", () => {
  const packet = new Uint8Array([0x41, ...DCID, 0x12, 0x34, 0x56]);
  const header = parseQuicHeader(packet, 8);
  assert.ok(header);
  assert.equal(header.form, "short");
  assert.equal(header.version, undefined);
  assert.equal(header.scid, undefined);
  assert.equal(hex(header.dcid), "8394c8f03e515708");
  assert.equal(hex(parseQuicHeader(packet, 4)!.dcid), "8394c8f0");
  assert.equal(parseQuicHeader(packet, 0)!.dcid.length, 0);
  assert.equal(parseQuicHeader(packet, 21), null, "more than 20 bytes is not a v1 CID");
  assert.equal(parseQuicHeader(packet, -1), null);
  assert.equal(parseQuicHeader(packet, 1.5), null);
});

Deno.test("quic header: version negotiation lists whole 4-byte versions", () => {
  const packet = longPacket(0x80, 0, DCID, SCID, [0, 0, 0, 1, 0x6b, 0x33, 0x43, 0xcf]);
  const header = parseQuicHeader(packet, 8);
  assert.ok(header);
  assert.equal(header.type, "version_negotiation");
  assert.equal(header.version, 0);
  assert.equal(parseQuicHeader(longPacket(0x80, 0, DCID, SCID, []), 8), null, "no versions");
  assert.equal(parseQuicHeader(longPacket(0x80, 0, DCID, SCID, [0, 0, 1]), 8), null);
});

Deno.test("quic header: connection IDs longer than v1 allows are rejected", () => {
  const long = new Array(21).fill(7);
  assert.equal(parseQuicHeader(longPacket(0xc0, QUIC_VERSION_1, long, SCID), 8), null);
  assert.equal(parseQuicHeader(longPacket(0xc0, QUIC_VERSION_1, DCID, long), 8), null);
  // Unknown versions follow the invariants: up to 255 bytes.
  const header = parseQuicHeader(longPacket(0xc0, 0xff00001d, long, long), 8);
  assert.equal(header?.dcid.length, 21);
});

Deno.test("quic header: every truncation of a header is null, never a throw", () => {
  const cases: Array<[Uint8Array, number]> = [
    [longPacket(0xc3, QUIC_VERSION_1, DCID, SCID, []), 8],
    [longPacket(0x80, 0, DCID, SCID, [0, 0, 0, 1]), 8],
    [new Uint8Array([0x41, ...DCID]), 8],
  ];
  for (const [packet, dcidLength] of cases) {
    assert.ok(parseQuicHeader(packet, dcidLength), "the whole header parses");
    for (let length = 0; length < packet.length; length++) {
      assert.equal(parseQuicHeader(packet.subarray(0, length), dcidLength), null, `${length}`);
    }
  }
});

Deno.test("quic header: random bytes never throw", () => {
  const buf = new Uint8Array(64);
  for (let i = 0; i < 5000; i++) {
    const length = i % 65;
    crypto.getRandomValues(buf.subarray(0, length));
    const header = parseQuicHeader(buf.subarray(0, length), i % 22);
    if (header) assert.ok(header.dcid.length <= 255);
  }
});

Deno.test("quic header: hex", () => {
  assert.equal(hex(new Uint8Array([])), "");
  assert.equal(hex(new Uint8Array([0x00, 0x0a, 0xff, 0x10])), "000aff10");
});
