/**
 * The loopback addresses the lab relay walks through for address rebindings.
 * @module
 */

const FIRST_ROTATING_LOOPBACK = 2;
const LAST_ROTATING_LOOPBACK = 254;

/**
 * The loopback address after `current` in 127.0.0.2 … 127.0.0.254, wrapping around; 127.0.0.2
 * for any other 127.0.0.x. Throws for anything that is not IPv4 loopback 127.0.0.x.
 */
export function nextLoopbackAddress(current: string): string {
  const match = /^127\.0\.0\.(\d{1,3})$/.exec(current);
  if (match === null) {
    throw new Error(`address rebinding needs a 127.0.0.x upstream address, not ${current}`);
  }
  const last = Number(match[1]);
  const next = last >= FIRST_ROTATING_LOOPBACK && last < LAST_ROTATING_LOOPBACK
    ? last + 1
    : FIRST_ROTATING_LOOPBACK;
  return `127.0.0.${next}`;
}
