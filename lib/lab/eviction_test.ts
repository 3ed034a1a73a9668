import { strict as assert } from "node:assert";
import { type EvictionCandidate, pickEvictionVictim, sessionExpiry } from "./eviction.ts";

interface Named extends EvictionCandidate {
  name: string;
}

function session(
  name: string,
  openedAt: number,
  lastActivityAt: number,
  datagramsFromServer: number,
): Named {
  return { name, openedAt, lastActivityAt, datagramsFromServer };
}

const IDLE_AFTER = 10_000;
const NOW = 100_000;

Deno.test("eviction: unanswered sessions go first, the oldest of them first", () => {
  const sessions = [
    session("answered, long quiet", 0, 1_000, 5),
    session("unanswered, young", 99_000, 99_500, 0),
    session("unanswered, old", 50_000, 99_900, 0),
    session("active", 10_000, NOW, 40),
  ];
  assert.equal(pickEvictionVictim(sessions, NOW, IDLE_AFTER)?.name, "unanswered, old");
});

Deno.test("eviction: then the answered session quiet the longest", () => {
  const sessions = [
    session("quiet 20 s", 0, NOW - 20_000, 3),
    session("active", 0, NOW - 10, 3),
    session("quiet 50 s", 5_000, NOW - 50_000, 3),
    session("quiet just under the bound", 0, NOW - IDLE_AFTER + 1, 3),
  ];
  assert.equal(pickEvictionVictim(sessions, NOW, IDLE_AFTER)?.name, "quiet 50 s");
});

Deno.test("eviction: a quiet session becomes a candidate at exactly idleAfterMs", () => {
  const sessions = [session("at the bound", 0, NOW - IDLE_AFTER, 1)];
  assert.equal(pickEvictionVictim(sessions, NOW, IDLE_AFTER)?.name, "at the bound");
  assert.equal(pickEvictionVictim(sessions, NOW - 1, IDLE_AFTER), undefined);
});

Deno.test("eviction: sessions in use are never picked", () => {
  const sessions = [session("a", 0, NOW - 5, 2), session("b", 10, NOW - 9_999, 9)];
  assert.equal(pickEvictionVictim(sessions, NOW, IDLE_AFTER), undefined);
  assert.equal(pickEvictionVictim([], NOW, IDLE_AFTER), undefined);
});

Deno.test("session expiry: unanswered first, then idle, else the time to the sooner one", () => {
  const timeouts = { idleMs: 60_000, unansweredMs: 5_000 };
  const unanswered = session("u", 0, 4_000, 0);
  assert.equal(sessionExpiry(unanswered, 4_999, timeouts), 1);
  assert.equal(sessionExpiry(unanswered, 5_000, timeouts), "unanswered");
  const answered = session("a", 0, 4_000, 3);
  assert.equal(sessionExpiry(answered, 5_000, timeouts), 59_000, "an answer lifts the wait");
  assert.equal(sessionExpiry(answered, 64_000, timeouts), "idle");
  // Never answered and idle both: it is counted as unanswered.
  assert.equal(sessionExpiry(unanswered, 70_000, timeouts), "unanswered");
});
