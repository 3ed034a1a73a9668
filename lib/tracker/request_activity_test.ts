import { strict as assert } from "node:assert";
import { ACTIVITY_SECONDS, RequestActivity } from "./request_activity.ts";

const T0 = 1_700_000_000_000; // a whole second

Deno.test("request activity: nothing counted is null", () => {
  assert.equal(new RequestActivity().toJSON(T0), null);
});

Deno.test("request activity: requests land in their second, gaps are zero", () => {
  const activity = new RequestActivity();
  activity.count(T0 + 10);
  activity.count(T0 + 990);
  activity.count(T0 + 3_500);
  assert.deepEqual(activity.toJSON(T0), {
    bucket_ms: 1000,
    start: new Date(T0).toISOString(),
    counts: [2, 0, 0, 1],
  });
});

Deno.test("request activity: only the last ACTIVITY_SECONDS seconds are kept", () => {
  const activity = new RequestActivity();
  for (let s = 0; s < ACTIVITY_SECONDS + 30; s++) activity.count(T0 + s * 1000);
  const info = activity.toJSON(T0)!;
  assert.equal(info.counts.length, ACTIVITY_SECONDS);
  assert.ok(info.counts.every((n) => n === 1));
  assert.equal(info.start, new Date(T0 + 30_000).toISOString());
  activity.count(T0 + 1_000_000); // a long pause clears everything older
  assert.deepEqual(activity.toJSON(T0)!.counts.filter((n) => n > 0), [1]);
});

Deno.test("request activity: a clock stepping back counts into the newest second", () => {
  const activity = new RequestActivity();
  activity.count(T0 + 5_000);
  activity.count(T0 + 1_000);
  assert.deepEqual(activity.toJSON(T0 + 5_000)!.counts, [2]);
});
