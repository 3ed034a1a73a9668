/**
 * The answer encoder gives, answer after answer on one connection, the bytes a fresh
 * `answerBytes(responseHead(…), body)` would: whatever part of a remembered head it reuses,
 * whatever changed (status, a field in the middle, the framing, an own field, Latin-1 text, a
 * UTF-8 body), and across a second boundary (`Date`).
 */

import { strict as assert } from "node:assert";
import fc from "fast-check";
import { answerBytes, type HeadFraming, httpDate, responseHead } from "./h1_answer.ts";
import { AnswerEncoder } from "./h1_answer_encoder.ts";

const encoder = new TextEncoder();

interface Answer {
  status: number;
  fields: string[];
  /** `chunked` is always false: a light answer's length is known. */
  framing: HeadFraming;
  body: string | Uint8Array | undefined;
}

/** The encoder's bytes and the reference bytes, taken within one second (retried otherwise). */
function both(answers: AnswerEncoder, answer: Answer): { got: number[]; want: number[] } {
  // Bounded: a second boundary falls between the two at most once in a few tries.
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = httpDate();
    const { status, fields, framing, body } = answer;
    const bodyBytes = typeof body === "string" ? encoder.encode(body) : body;
    const got = answers.encode(
      status,
      ["x-first", "dropped", ...fields],
      2,
      framing.close,
      body,
      bodyBytes?.length ?? 0,
    );
    const want = answerBytes(responseHead(status, fields, framing), bodyBytes);
    if (httpDate() === before) return { got: [...got], want: [...want] };
  }
  throw new Error("the clock crossed a second boundary in every attempt");
}

const ALT_SVC = 'h3=":9443"';
const names = ["content-type", "content-length", "x-connection-id", "x-request-count", "x-b"];
const field = fc.tuple(
  fc.constantFrom(...names, "alt-svc", "date", "connection", "transfer-encoding"),
  fc.constantFrom("1", "2", "10", "application/json", "caf\u00e9", 'h3=":1"', ""),
);
const answer: fc.Arbitrary<Answer> = fc.record({
  status: fc.constantFrom(200, 200, 200, 404, 204, 599),
  fields: fc.array(field, { maxLength: 8 }).map((pairs) => pairs.flat()),
  framing: fc.record({
    altSvc: fc.constant(ALT_SVC),
    close: fc.boolean(),
    chunked: fc.constant(false),
  }),
  body: fc.oneof(
    fc.constant(undefined),
    fc.constantFrom('{"status":"ok"}', "", "\u00e9\u{1f600}"),
    fc.uint8Array({ maxLength: 8 }),
  ),
});

Deno.test("h1 answer encoder: the same bytes as a fresh encoding, answer after answer", () => {
  fc.assert(
    fc.property(fc.array(answer, { minLength: 1, maxLength: 12 }), (sequence) => {
      const answers = new AnswerEncoder(ALT_SVC);
      for (const one of sequence) {
        const { got, want } = both(answers, one);
        assert.deepEqual(got, want);
      }
    }),
    { numRuns: 400 },
  );
});

Deno.test("h1 answer encoder: a repeated answer with one field changed", () => {
  const answers = new AnswerEncoder(ALT_SVC);
  const framing = { altSvc: ALT_SVC, close: false, chunked: false };
  const fields = (
    count: string,
  ) => ["content-type", "application/json", "x-count", count, "x", "y"];
  // Counts of growing width: the changed field's line changes length, the lines after it move.
  for (const count of ["1", "2", "10", "100", "7"]) {
    const { got, want } = both(answers, {
      status: 200,
      fields: fields(count),
      framing,
      body: "{}",
    });
    assert.deepEqual(got, want, count);
    assert.ok(new TextDecoder().decode(new Uint8Array(got)).includes(`x-count: ${count}\r\nx: y`));
  }
});
