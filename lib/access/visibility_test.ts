import { strict as assert } from "node:assert";
import type { Context } from "hono";
import { isLoopbackAddr, Visibility } from "./visibility.ts";
import type { AppEnv } from "../connection_env.ts";
import type { MigrationLab } from "../lab/lab.ts";

/** The parts of a Hono context `Visibility` reads. */
function fakeContext(remote: string, authorization?: string): Context<AppEnv> {
  return {
    req: { header: (name: string) => (name === "authorization" ? authorization : undefined) },
    env: { connection: {}, remoteAddr: () => remote },
  } as unknown as Context<AppEnv>;
}

Deno.test("isLoopbackAddr: IPv4, IPv6 and IPv4-mapped loopback, with and without ports", () => {
  for (const addr of ["127.0.0.1:5", "127.9.9.9", "[::1]:443", "::1", "[::ffff:127.0.0.1]:9"]) {
    assert.ok(isLoopbackAddr(addr), addr);
  }
  for (const addr of ["10.0.0.1:5", "[2001:db8::1]:443", "128.0.0.1", "[::ffff:10.0.0.1]:1"]) {
    assert.ok(!isLoopbackAddr(addr), addr);
  }
});

Deno.test("Visibility: localhost sees all, others only their own unless they hold the token", () => {
  const v = new Visibility("localhost", "s3cret");
  assert.ok(v.seesAll(fakeContext("127.0.0.1:4000")));
  assert.ok(!v.seesAll(fakeContext("192.0.2.7:4000")));
  assert.ok(v.seesAll(fakeContext("192.0.2.7:4000", "Bearer s3cret")));
  assert.ok(!v.seesAll(fakeContext("192.0.2.7:4000", "Bearer s3cre")));
  assert.ok(new Visibility("on").seesAll(fakeContext("192.0.2.7:4000")));
  const off = new Visibility("off", "s3cret");
  assert.ok(!off.seesAll(fakeContext("127.0.0.1:4000")));
  assert.ok(off.seesAll(fakeContext("127.0.0.1:4000", "bearer s3cret")));
});

Deno.test("Visibility: a client relayed by the lab counts with its own address, not the relay's", () => {
  const lab = (clientKey: string) => () =>
    ({ sessionFor: () => ({ key: clientKey }) }) as unknown as MigrationLab;
  // The server sees the relay's loopback address; the client behind it is remote.
  assert.ok(
    !new Visibility("localhost", "t", lab("198.51.100.4:5000")).seesAll(
      fakeContext("127.0.0.2:40000"),
    ),
  );
  assert.ok(new Visibility("localhost", "t", lab("127.0.0.1:5000")).seesAll(
    fakeContext("127.0.0.2:40000"),
  ));
});
