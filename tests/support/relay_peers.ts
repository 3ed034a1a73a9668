/**
 * Both ends of a lab relay for its unit tests: an upstream "server" socket that echoes (or
 * stays silent), and a client socket that opens a session with a full-size Initial and then
 * exchanges text. Loopback only.
 * @module
 */

import { formatAddr } from "../../lib/addr.ts";
import { clientInitialDatagram } from "./quic_datagrams.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A UDP socket that answers each datagram with `respond(datagram)` (none when it returns null,
 * as a server does to junk it cannot decrypt) and notes who sent it.
 */
export class Upstream {
  readonly socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  readonly sources: string[] = [];
  readonly #loop: Promise<void>;

  constructor(respond: (datagram: Uint8Array) => Uint8Array | null = (datagram) => datagram) {
    this.#loop = (async () => {
      try {
        for (;;) {
          const [datagram, from] = await this.socket.receive();
          this.sources.push(formatAddr(from as Deno.NetAddr));
          const answer = respond(datagram);
          if (answer !== null) await this.socket.send(answer, from);
        }
      } catch { /* closed */ }
    })();
  }

  get port(): number {
    return (this.socket.addr as Deno.NetAddr).port;
  }

  async close(): Promise<void> {
    this.socket.close();
    await this.#loop;
  }
}

/** A client socket talking to the relay, from `hostname` (default 127.0.0.1). */
export class Client {
  readonly socket: Deno.DatagramConn;
  constructor(readonly relayPort: number, hostname = "127.0.0.1") {
    this.socket = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
  }

  get key(): string {
    return formatAddr(this.socket.addr as Deno.NetAddr);
  }

  send(data: string | Uint8Array): Promise<number> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    return this.socket.send(bytes, {
      transport: "udp",
      hostname: "127.0.0.1",
      port: this.relayPort,
    });
  }

  async receiveText(): Promise<string> {
    const [datagram] = await this.socket.receive();
    return decoder.decode(datagram);
  }

  /** Sends a full-size Initial, the datagram that opens a session (`seed` varies its IDs). */
  sendInitial(seed = 1): Promise<number> {
    return this.send(clientInitialDatagram({ seed }));
  }

  /** Opens a session as a QUIC client does, with a full-size Initial, and waits for the echo. */
  async open(): Promise<void> {
    await this.sendInitial();
    await this.socket.receive();
  }

  /** Sends and waits for the echo. */
  async roundTrip(text: string): Promise<string> {
    await this.send(text);
    return await this.receiveText();
  }

  close(): void {
    this.socket.close();
  }
}
