import { strict as assert } from "node:assert";
import { SocketClosedUnexpectedlyError } from "redis";
import { guardRedisRejections, isRedisConnectionError } from "./redis_client.ts";

Deno.test("isRedisConnectionError: the client's own errors and socket errors, nothing else", () => {
  assert.ok(isRedisConnectionError(new SocketClosedUnexpectedlyError()));
  const reset = Object.assign(new Error("read ECONNRESET"), {
    code: "ECONNRESET",
    syscall: "read",
  });
  assert.ok(isRedisConnectionError(reset));
  const notSocket = Object.assign(new Error("x"), { code: "ECONNRESET", syscall: "open" });
  assert.ok(!isRedisConnectionError(notSocket));
  assert.ok(!isRedisConnectionError(new TypeError("a bug")));
  assert.ok(!isRedisConnectionError(undefined));
});

/**
 * Rejects with `reason` and nothing to catch it; resolves with whether the guard (whose listener
 * runs before this one, added later) dropped it. This listener then drops it in any case, so
 * the test's own rejection never fails the test module.
 */
async function droppedByGuard(reason: unknown): Promise<boolean> {
  let seen: (dropped: boolean) => void = () => {};
  const reported = new Promise<boolean>((resolve) => seen = resolve);
  const listener = (event: PromiseRejectionEvent) => {
    seen(event.defaultPrevented);
    event.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", listener);
  try {
    Promise.reject(reason);
    return await reported;
  } finally {
    globalThis.removeEventListener("unhandledrejection", listener);
  }
}

Deno.test("a guarded Redis connection failure is told to every holder and kept from ending the process", async () => {
  const lines: string[] = [];
  const releaseA = guardRedisRejections((line) => lines.push(`a: ${line}`));
  const releaseB = guardRedisRejections((line) => lines.push(`b: ${line}`));
  try {
    assert.ok(await droppedByGuard(new SocketClosedUnexpectedlyError()), "dropped");
    assert.deepEqual(lines, [
      "a: Redis connection failure inside the client, not handled there: Socket closed unexpectedly",
      "b: Redis connection failure inside the client, not handled there: Socket closed unexpectedly",
    ]);
    releaseA();
    releaseA(); // twice is once
    lines.length = 0;
    assert.ok(await droppedByGuard(new SocketClosedUnexpectedlyError()));
    assert.equal(lines.length, 1, "only the holder left is told");
  } finally {
    releaseA();
    releaseB();
  }
});

Deno.test("any other rejection, or one after the last release, is left alone", async () => {
  const release = guardRedisRejections(() => {});
  assert.equal(await droppedByGuard(new TypeError("a bug")), false, "a bug is never dropped");
  release();
  assert.equal(
    await droppedByGuard(new SocketClosedUnexpectedlyError()),
    false,
    "no guard, no dropping",
  );
});
