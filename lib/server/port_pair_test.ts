import { strict as assert } from "node:assert";
import { bindPortPair, PORT_PAIR_ATTEMPTS } from "./port_pair.ts";

/** A binding whose TCP side finds its port taken the first `taken` times. */
function fakeBinding(
  anyPort: boolean,
  taken: number,
  error: unknown = new Deno.errors.AddrInUse(),
) {
  const log = { udp: 0, released: 0, tcp: 0 };
  return {
    log,
    binding: {
      anyPort,
      bindUdp: () => ++log.udp,
      portOf: (udp: number) => 40_000 + udp,
      releaseUdp: () => Promise.resolve(log.released++),
      bindTcp: (port: number) => {
        if (++log.tcp <= taken) return Promise.reject(error);
        return Promise.resolve(`tcp:${port}`);
      },
    },
  };
}

Deno.test("port pair: with any port, a taken TCP number picks the pair again", async () => {
  const { log, binding } = fakeBinding(true, 2);
  assert.deepEqual(await bindPortPair(binding), [3, "tcp:40003"]);
  assert.deepEqual(log, { udp: 3, released: 2, tcp: 3 });
});

Deno.test("port pair: a fixed port, another error, or too many tries fail at once", async () => {
  const fixed = fakeBinding(false, 1);
  await assert.rejects(bindPortPair(fixed.binding), Deno.errors.AddrInUse);
  assert.deepEqual(fixed.log, { udp: 1, released: 1, tcp: 1 });
  const other = fakeBinding(true, 1, new Error("no permission"));
  await assert.rejects(bindPortPair(other.binding), /no permission/);
  const always = fakeBinding(true, Infinity, Object.assign(new Error("x"), { code: "EADDRINUSE" }));
  await assert.rejects(bindPortPair(always.binding), /x/);
  assert.equal(always.log.udp, PORT_PAIR_ATTEMPTS);
  assert.equal(always.log.released, PORT_PAIR_ATTEMPTS);
});
