/**
 * The count of open TCP connections against a cap, shared by every HTTPS listener given the same
 * instance (the main port's and the lab's), so that one `--max-tcp-connections` covers them all.
 * @module
 */

/** Open TCP connections against a cap; listeners given the same instance share the cap. */
export class TcpConnectionSlots {
  #open = 0;
  /** @param max connections open at once */
  constructor(readonly max: number) {}
  /** Connections open now. */
  get open(): number {
    return this.#open;
  }
  /** Takes a slot; false when all are taken. */
  take(): boolean {
    if (this.#open >= this.max) return false;
    this.#open++;
    return true;
  }
  /** Gives a slot back. */
  release(): void {
    this.#open--;
  }
}
