/**
 * The command line that opens this server in Chromium over HTTP/3, printed in the start banner.
 * @module
 */

/**
 * The one-line Chromium command that opens the server over HTTP/3 while trusting only this leaf's
 * public key, in a throwaway profile.
 *
 * @param spkiSha256Base64 From `ServerCertificates.spkiSha256Base64` (lib/certs.ts).
 * @param port The server's UDP/TCP port.
 * @param host The host in the URL: a name the leaf covers, or an IP (IPv6 without brackets).
 */
export function chromiumCommand(
  spkiSha256Base64: string,
  port: number,
  host = "localhost",
): string {
  const origin = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  return [
    "chromium",
    `--origin-to-force-quic-on=${origin}`,
    `--ignore-certificate-errors-spki-list=${spkiSha256Base64}`,
    "--user-data-dir=$(mktemp -d)",
    `https://${origin}/`,
  ].join(" ");
}
