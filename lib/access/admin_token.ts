/**
 * The admin token: where it comes from (given, kept in `<data-dir>/admin-token`, or made for
 * this run) and how a request proves it has it (`Authorization: Bearer <token>`, compared in
 * constant time). The token is never logged or echoed. This is the only place one is generated.
 *
 * ```ts
 * const { token, note } = await resolveAdminToken({ dataDir: ".data", persist: true });
 * hasAdminToken(request.headers.get("authorization") ?? undefined, token);
 * ```
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

/** A fresh admin token: 32 random bytes, base64url without padding (43 characters). */
export function generateAdminToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Where the admin token comes from. */
export interface AdminTokenSource {
  /** A token given on the command line or by a caller; used as is. */
  given?: string;
  /** The data directory, for the kept token file. */
  dataDir: string;
  /**
   * Keep a generated token in `<dataDir>/admin-token` (mode 0600) and reuse it across restarts;
   * false makes one for this run only.
   */
  persist: boolean;
}

/**
 * The admin token and a note saying where it is (for the banner: the token itself is never
 * printed). A kept token file is read, or written once, with mode 0600.
 */
export async function resolveAdminToken(
  source: AdminTokenSource,
): Promise<{ token: string; note: string }> {
  if (source.given !== undefined) return { token: source.given, note: "from --admin-token" };
  if (!source.persist) return { token: generateAdminToken(), note: "generated for this run" };
  const path = `${source.dataDir}/admin-token`;
  let token = (await Deno.readTextFile(path).catch(() => "")).trim();
  if (token === "") {
    token = generateAdminToken();
    await Deno.mkdir(source.dataDir, { recursive: true });
    await Deno.writeTextFile(path, token + "\n", { mode: 0o600 });
  }
  await Deno.chmod(path, 0o600);
  return { token, note: `in ${path} (generated once, kept across restarts)` };
}
