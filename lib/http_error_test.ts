import { strict as assert } from "node:assert";
import {
  answerDetail,
  API_CONTENT_SECURITY_POLICY,
  BadRequestError,
  BodyTimeoutError,
  BodyTooLargeError,
  errorAnswer,
  HeaderTimeoutError,
  HttpError,
  jsonError,
} from "./http_error.ts";

Deno.test("http errors: each typed error answers with its own status and code", async () => {
  const cases: Array<[Error, number, string]> = [
    [new BodyTooLargeError(10), 413, "body_too_large"],
    [new HeaderTimeoutError(100), 408, "request_timeout"],
    [new BadRequestError("the body is not valid JSON"), 400, "bad_request"],
    [new BodyTimeoutError(100), 408, "request_timeout"],
    [new HttpError(409, "conflict", "busy"), 409, "conflict"],
    [new TypeError("boom"), 500, "internal_error"],
  ];
  for (const [error, status, code] of cases) {
    const res = errorAnswer(error);
    assert.equal(res.status, status, error.name);
    assert.equal(res.headers.get("content-type"), "application/json");
    // Listeners answer with these before the app's middleware could add its headers.
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(res.headers.get("content-security-policy"), API_CONTENT_SECURITY_POLICY);
    assert.deepEqual(await res.json(), { error: code, detail: error.message });
  }
  assert.ok(new BodyTooLargeError(10) instanceof HttpError, "told apart by type, not text");
});

Deno.test("http errors: a long detail is cut, so client input is not echoed whole", async () => {
  const long = "x".repeat(5000);
  const body = await jsonError(400, "bad_request", long, { "x-extra": "1" }).json();
  assert.ok(body.detail.length < 400);
  assert.match(body.detail, /\(5000 characters\)$/);
  assert.equal(answerDetail("short"), "short");
});
