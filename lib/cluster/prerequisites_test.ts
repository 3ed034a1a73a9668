import { strict as assert } from "node:assert";
import { findExecutable, findPrerequisites } from "./prerequisites.ts";

const installed = (...names: string[]) => (name: string) =>
  names.includes(name) ? `/usr/bin/${name}` : undefined;

Deno.test("prerequisites: each missing program is one line naming its Debian package", () => {
  assert.deepEqual(findPrerequisites({ redis: true }, installed("redis-server"), true), {
    missing: "nginx is not installed: apt-get install nginx libnginx-mod-stream",
  });
  const noModule = findPrerequisites({ redis: true }, installed("nginx", "redis-server"), false);
  assert.ok("missing" in noModule && /apt-get install libnginx-mod-stream$/.test(noModule.missing));
  const noRedis = findPrerequisites({ redis: true }, installed("nginx"), true);
  assert.ok("missing" in noRedis && /apt-get install redis-server/.test(noRedis.missing));
  assert.deepEqual(findPrerequisites({ redis: false }, installed("nginx"), true), {
    nginx: "/usr/bin/nginx",
  });
  assert.deepEqual(findPrerequisites({ redis: true }, installed("nginx", "redis-server"), true), {
    nginx: "/usr/bin/nginx",
    redisServer: "/usr/bin/redis-server",
  });
});

Deno.test("findExecutable searches PATH, then the sbin directories", async () => {
  const dir = await Deno.makeTempDir({ prefix: "find_exe_" });
  try {
    await Deno.writeTextFile(`${dir}/tool`, "#!/bin/sh\n", { mode: 0o755 });
    await Deno.writeTextFile(`${dir}/data`, "", { mode: 0o644 });
    assert.equal(findExecutable("tool", `/nonexistent:${dir}`), `${dir}/tool`);
    assert.equal(findExecutable("data", dir), undefined, "not executable");
    assert.equal(findExecutable("no-such-program-here", dir), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
