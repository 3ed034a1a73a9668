import { strict as assert } from "node:assert";
import {
  constantTimeEqual,
  generateAdminToken,
  hasAdminToken,
  resolveAdminToken,
} from "./admin_token.ts";

Deno.test("generateAdminToken: 32 random bytes as unpadded base64url", () => {
  const token = generateAdminToken();
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(generateAdminToken(), token);
});

Deno.test("hasAdminToken: only the exact bearer token passes", () => {
  assert.equal(hasAdminToken("Bearer abc", "abc"), true);
  assert.equal(hasAdminToken("bearer   abc", "abc"), true);
  assert.equal(hasAdminToken("Bearer abcd", "abc"), false);
  assert.equal(hasAdminToken("Basic abc", "abc"), false);
  assert.equal(hasAdminToken(undefined, "abc"), false);
  assert.equal(hasAdminToken("Bearer abc", undefined), false);
  assert.equal(constantTimeEqual("", ""), true);
  assert.equal(constantTimeEqual("a", "b"), false);
});

Deno.test("resolveAdminToken: given, kept once with mode 0600, or made for one run", async () => {
  const dataDir = await Deno.makeTempDir();
  try {
    const given = await resolveAdminToken({ given: "t0ken", dataDir, persist: true });
    assert.deepEqual(given, { token: "t0ken", note: "from --admin-token" });
    await assert.rejects(Deno.stat(`${dataDir}/admin-token`), "a given token writes no file");

    const first = await resolveAdminToken({ dataDir, persist: true });
    const second = await resolveAdminToken({ dataDir, persist: true });
    assert.equal(second.token, first.token, "kept across restarts");
    assert.equal((await Deno.readTextFile(`${dataDir}/admin-token`)).trim(), first.token);
    assert.equal((await Deno.stat(`${dataDir}/admin-token`)).mode! & 0o777, 0o600);
    assert.doesNotMatch(first.note, new RegExp(first.token), "the note never holds the token");

    const once = await resolveAdminToken({ dataDir, persist: false });
    assert.notEqual(once.token, first.token);
    assert.equal(once.note, "generated for this run");
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
