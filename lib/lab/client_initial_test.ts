import { strict as assert } from "node:assert";
import { clientInitialDatagram } from "../../tests/support/quic_datagrams.ts";
import { clientInitialProblem, MIN_CLIENT_INITIAL_DATAGRAM } from "./client_initial.ts";
import { QUIC_VERSION_1, QUIC_VERSION_2 } from "./quic_header.ts";

Deno.test("client initial: full-size v1 and v2 Initials may open a session", () => {
  assert.equal(clientInitialProblem(clientInitialDatagram()), null);
  assert.equal(clientInitialProblem(clientInitialDatagram({ version: QUIC_VERSION_2 })), null);
  assert.equal(clientInitialProblem(clientInitialDatagram({ size: 1500 })), null);
  // A coalesced datagram: the Initial's Length ends before the datagram does.
  const coalesced = clientInitialDatagram({ size: 1300 });
  const shorter = clientInitialDatagram({ size: 1250 });
  coalesced.set(shorter.subarray(0, 1250));
  assert.equal(clientInitialProblem(coalesced), null);
});

Deno.test("client initial: one byte under 1200 is too short", () => {
  const datagram = clientInitialDatagram({ size: MIN_CLIENT_INITIAL_DATAGRAM - 1 });
  assert.equal(clientInitialProblem(datagram), "too_short");
  assert.equal(clientInitialProblem(new Uint8Array(0)), "too_short");
});

Deno.test("client initial: other headers, versions and types are refused", () => {
  const short = clientInitialDatagram();
  short[0] = 0x40; // short header
  assert.equal(clientInitialProblem(short), "not_long_header");
  const cut = clientInitialDatagram();
  cut[5] = 200; // a DCID length a known version never has
  assert.equal(clientInitialProblem(cut), "not_long_header");
  assert.equal(
    clientInitialProblem(clientInitialDatagram({ version: 0x1a2a3a4a })),
    "unsupported_version",
  );
  // Version negotiation is the server's to send, never a client's opening.
  assert.notEqual(clientInitialProblem(clientInitialDatagram({ version: 0 })), null);
  for (const typeBits of [1, 2, 3]) {
    const datagram = clientInitialDatagram({ version: QUIC_VERSION_1, typeBits });
    assert.equal(clientInitialProblem(datagram), "not_initial", `v1 type bits ${typeBits}`);
  }
  // In v2 the type bits of a v1 Initial mean Retry.
  const v2Retry = clientInitialDatagram({ version: QUIC_VERSION_2, typeBits: 0 });
  assert.equal(clientInitialProblem(v2Retry), "not_initial");
});

Deno.test("client initial: a short DCID or a Length past the end is malformed", () => {
  assert.equal(
    clientInitialProblem(clientInitialDatagram({ dcid: [1, 2, 3, 4, 5, 6, 7] })),
    "malformed_initial",
  );
  const datagram = clientInitialDatagram();
  const lengthAt = 6 + 8 + 1 + 8 + 1;
  datagram[lengthAt] = 0x40 | 0x3f; // 16,383 bytes: past the end
  assert.equal(clientInitialProblem(datagram), "malformed_initial");
  datagram[lengthAt] = 0x40;
  datagram[lengthAt + 1] = 19; // too short to hold a packet number and an AEAD tag
  assert.equal(clientInitialProblem(datagram), "malformed_initial");
  const token = clientInitialDatagram();
  token[lengthAt - 1] = 0x7f; // a 2-byte token length
  token[lengthAt] = 0xff; // 16,383 bytes of token
  assert.equal(clientInitialProblem(token), "malformed_initial");
});
