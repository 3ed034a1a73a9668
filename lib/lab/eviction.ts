/**
 * Which lab relay session gives way when the table (or one address's share of it) is full and a
 * new client's Initial arrives. Pure: it looks at timestamps and counters and picks; the relay
 * closes the one it picks.
 *
 * The order protects clients that are being served:
 * 1. sessions the server never answered, oldest first: junk that merely looked like an Initial,
 *    or a handshake that went nowhere;
 * 2. answered sessions with no traffic either way for `idleAfterMs`, the longest quiet first;
 * 3. nothing else: a session with recent traffic both ways is never pushed out, so a newcomer
 *    is refused instead.
 *
 * ```ts
 * const victim = pickEvictionVictim(sessions, performance.now(), 10_000);
 * if (victim === undefined) refuse(); else close(victim);
 * ```
 * @module
 */

/** What the choice looks at in a session. */
export interface EvictionCandidate {
  /** `performance.now()` when the session opened. */
  readonly openedAt: number;
  /** `performance.now()` of its last datagram either way. */
  readonly lastActivityAt: number;
  /** Datagrams the server sent to it; 0 means never answered. */
  readonly datagramsFromServer: number;
}

/**
 * The session to close to make room, or undefined when every session is answered and active
 * (quiet for less than `idleAfterMs` at `now`).
 */
export function pickEvictionVictim<T extends EvictionCandidate>(
  sessions: Iterable<T>,
  now: number,
  idleAfterMs: number,
): T | undefined {
  let oldestUnanswered: T | undefined;
  let quietest: T | undefined;
  for (const session of sessions) {
    if (session.datagramsFromServer === 0) {
      if (oldestUnanswered === undefined || session.openedAt < oldestUnanswered.openedAt) {
        oldestUnanswered = session;
      }
    } else if (
      now - session.lastActivityAt >= idleAfterMs &&
      (quietest === undefined || session.lastActivityAt < quietest.lastActivityAt)
    ) {
      quietest = session;
    }
  }
  return oldestUnanswered ?? quietest;
}

/** How long a session lives without traffic, and without any answer from the server. */
export interface SessionTimeouts {
  idleMs: number;
  unansweredMs: number;
}

/**
 * When a session's own timers end it: `"unanswered"` once the server has left it unanswered for
 * `unansweredMs` since it opened, `"idle"` after `idleMs` without a datagram either way, else
 * the milliseconds until the sooner of the two is due (look again then).
 */
export function sessionExpiry(
  session: EvictionCandidate,
  now: number,
  { idleMs, unansweredMs }: SessionTimeouts,
): "unanswered" | "idle" | number {
  const idleEnds = session.lastActivityAt + idleMs;
  const waitEnds = session.datagramsFromServer === 0 ? session.openedAt + unansweredMs : Infinity;
  if (now >= waitEnds) return "unanswered";
  if (now >= idleEnds) return "idle";
  return Math.min(idleEnds, waitEnds) - now;
}
