import { strict as assert } from "node:assert";
import {
  parseSockaddr,
  receiveBufferLine,
  sameBinding,
  UdpReceiveBuffer,
} from "./udp_receive_buffer.ts";

function sockaddrV4(port: number, ip: number[]): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, 2, true);
  view.setUint16(2, port, false);
  bytes.set(ip, 4);
  return bytes;
}

Deno.test("parseSockaddr reads an IPv4 and an IPv6 binding, and refuses short or other families", () => {
  assert.deepEqual(parseSockaddr(sockaddrV4(4433, [127, 0, 0, 1]), 16), {
    family: "v4",
    port: 4433,
    ipv4: "127.0.0.1",
  });
  const v6 = new Uint8Array(28);
  new DataView(v6.buffer).setUint16(0, 10, true);
  new DataView(v6.buffer).setUint16(2, 443, false);
  assert.deepEqual(parseSockaddr(v6, 28), { family: "v6", port: 443, ipv4: "" });
  assert.equal(parseSockaddr(v6, 16), null, "an IPv6 address needs 24 bytes");
  assert.equal(parseSockaddr(sockaddrV4(1, [1, 2, 3, 4]), 4), null);
  const unix = new Uint8Array(16);
  unix[0] = 1;
  assert.equal(parseSockaddr(unix, 16), null);
});

Deno.test("sameBinding matches port and family, and the IPv4 address", () => {
  const bound = { family: "v4" as const, port: 4433, ipv4: "127.0.0.1" };
  const addr = (hostname: string, port = 4433): Deno.NetAddr => ({
    transport: "udp",
    hostname,
    port,
  });
  assert.ok(sameBinding(bound, addr("127.0.0.1")));
  assert.ok(!sameBinding(bound, addr("127.0.0.2")));
  assert.ok(!sameBinding(bound, addr("127.0.0.1", 4434)));
  assert.ok(!sameBinding(bound, addr("::1")));
  assert.ok(sameBinding({ family: "v6", port: 4433, ipv4: "" }, addr("::")));
});

Deno.test("the banner line says what was given, and why less than asked", () => {
  const mib = 1024 * 1024;
  assert.equal(
    receiveBufferLine({ asked: 8 * mib, bytes: 8 * mib, method: "SO_RCVBUFFORCE", note: "" }),
    "8 MiB (SO_RCVBUFFORCE)",
  );
  assert.equal(
    receiveBufferLine({ asked: 8 * mib, bytes: 212992, method: "SO_RCVBUF", note: "capped" }),
    "208 KiB, not the 8 MiB asked: capped",
  );
  assert.equal(
    receiveBufferLine({ asked: 0, bytes: 212992, method: "unchanged", note: "" }),
    "208 KiB, the kernel's default (--udp-receive-buffer 0)",
  );
  assert.equal(
    receiveBufferLine({ asked: 8 * mib, bytes: null, method: "unchanged", note: "no FFI" }),
    "the kernel's default, not the 8 MiB asked: no FFI",
  );
});

Deno.test("a QUIC endpoint's receive buffer is raised to what was asked, exactly", () => {
  const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  const asked = 3 * 1024 * 1024;
  const socket = new UdpReceiveBuffer(endpoint.addr, asked);
  try {
    // The tests run as root (the test task installs the peers), so the forced form is allowed.
    assert.equal(socket.report.method, "SO_RCVBUFFORCE", socket.report.note);
    assert.equal(socket.report.bytes, asked);
    assert.equal(socket.report.note, "");
    assert.equal(socket.drops(), 0);
  } finally {
    socket.close();
    endpoint.close();
  }
});

Deno.test("0 leaves the kernel's buffer; an unknown binding is reported, not thrown", () => {
  const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  try {
    const kept = new UdpReceiveBuffer(endpoint.addr, 0);
    assert.equal(kept.report.method, "unchanged");
    const kernelDefault = Number(Deno.readTextFileSync("/proc/sys/net/core/rmem_default"));
    assert.equal(kept.report.bytes, kernelDefault);
    kept.close();
    const other = { ...endpoint.addr, hostname: "127.0.0.9" };
    const missing = new UdpReceiveBuffer(other, 1024 * 1024);
    assert.equal(missing.report.bytes, null);
    assert.match(missing.report.note, /no UDP socket of this process is bound/);
    assert.equal(missing.drops(), null, "nothing is read once the socket is not known");
  } finally {
    endpoint.close();
  }
});

Deno.test("the kernel's drop count of an unread socket is read back", async () => {
  const receiver = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const sender = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  // The smallest buffer the kernel allows: the receiver never reads, so it fills at once.
  const socket = new UdpReceiveBuffer(receiver.addr as Deno.NetAddr, 1);
  try {
    assert.equal(socket.drops(), 0);
    const datagram = new Uint8Array(1200);
    const sent = 200;
    for (let i = 0; i < sent; i++) await sender.send(datagram, receiver.addr);
    const drops = socket.drops();
    assert.ok(drops !== null && drops > 0 && drops < sent, `drops ${drops} of ${sent}`);
  } finally {
    socket.close();
    sender.close();
    receiver.close();
  }
});
