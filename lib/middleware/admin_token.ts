/**
 * The admin token check: `Authorization: Bearer <token>`, compared in constant time. The token
 * is never logged or echoed.
 * @module
 */

const encoder = new TextEncoder();

/** Compares two strings in time independent of where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** True when the `authorization` header carries `token` as a bearer token. */
export function hasAdminToken(authorization: string | undefined, token: string | undefined) {
  if (token === undefined || authorization === undefined) return false;
  const match = authorization.match(/^Bearer\s+(\S+)$/i);
  return match !== null && constantTimeEqual(match[1], token);
}
