import { strict as assert } from "node:assert";
import { SessionTable } from "./session_table.ts";

const session = (key: string) => ({ key, client: { hostname: key.split(":")[0] } });

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
