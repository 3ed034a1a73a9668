import { strict as assert } from "node:assert";
import { SessionTable } from "./session_table.ts";

const session = (key: string, upstreamAddr = `up-${key}`) => ({
  key,
  client: { hostname: key.split(":")[0] },
  upstreamAddr,
});

Deno.test("session table: both indexes follow adds and removes", () => {
  const table = new SessionTable<ReturnType<typeof session>>();
  const a = session("127.0.0.1:1000");
  const b = session("127.0.0.1:1001");
  const c = session("127.0.0.2:1000");
  for (const s of [a, b, c]) table.add(s);
  assert.equal(table.size, 3);
  assert.equal(table.get("127.0.0.1:1001"), b);
  assert.deepEqual([...table.fromAddress("127.0.0.1")!], [a, b]);
  table.remove(a);
  table.remove(b);
  assert.equal(table.fromAddress("127.0.0.1"), undefined, "an address with no session is gone");
  assert.deepEqual([...table.values()], [c]);
});

Deno.test("session table: the upstream index follows moves, and a stale move does not unindex", () => {
  const table = new SessionTable<ReturnType<typeof session>>();
  const a = session("127.0.0.1:1000", "127.0.0.1:5000");
  const b = session("127.0.0.1:1001", "127.0.0.1:5001");
  table.add(a);
  table.add(b);
  assert.equal(table.byUpstream("127.0.0.1:5000"), a);
  a.upstreamAddr = "127.0.0.2:6000";
  table.moved(a, "127.0.0.1:5000");
  assert.equal(table.byUpstream("127.0.0.1:5000"), undefined, "the old mapping is gone");
  assert.equal(table.byUpstream("127.0.0.2:6000"), a);
  // b takes a's old address (the kernel may hand a port out again): a's later move of some
  // other address must not remove b's entry.
  b.upstreamAddr = "127.0.0.1:5000";
  table.moved(b, "127.0.0.1:5001");
  table.moved(a, "127.0.0.1:5000");
  assert.equal(table.byUpstream("127.0.0.1:5000"), b);
  table.remove(a);
  assert.equal(table.byUpstream("127.0.0.2:6000"), undefined);
  assert.equal(table.byUpstream("127.0.0.1:5000"), b);
});
