/**
 * Connection and migration history kept in Deno KV (a SQLite file, `<data-dir>/history.kv`),
 * so a restart shows what happened before it. The file and its `-wal`/`-shm` hold client
 * addresses, so they are mode 0600 (and a data directory made here, 0700).
 *
 * At open, every stored record goes back into the tracker (`ConnectionTracker.restore`):
 * closed connections as they were, connections that were open when the previous process ended
 * as closed with `lost_at_restart`; retention (`--closed-ttl`, `--max-closed`) applies and what
 * it drops is deleted from the file. While running, the store subscribes to the tracker: an
 * event (open, migration, outcome, close) only marks its connection dirty, and a timer writes
 * the dirty connections `intervalMs` later in atomic batches within KV's limits. Requests emit
 * no events, so persistence costs the request path nothing. A failed write is logged and
 * retried at the next interval; it never throws into the server.
 *
 * ```ts
 * const tracker = new ConnectionTracker();
 * const { store, report } = await HistoryStore.open(".data/history.kv", tracker);
 * console.log(`${report.restored} connections restored, ${report.lost} lost at restart`);
 * // … serve …
 * await store.close(); // writes what is still pending
 * ```
 * @module
 */

import type { ConnectionTracker, TrackedConnection } from "../tracker/tracker.ts";
import type { ConnectionInfo, TrackerEvent } from "../tracker/types.ts";
import { fitForStorage, isConnectionInfo } from "./_record.ts";

/** The layout version written under `["meta", "schema"]`. */
export const SCHEMA_VERSION = 1;
/** Key prefix of connection records: `["conn", connection_id]` → `ConnectionInfo`. */
export const CONNECTION_PREFIX = "conn";
/** Mutations per atomic commit: KV allows 1,000; half leaves room for the size estimate. */
const MAX_MUTATIONS_PER_COMMIT = 500;
/** Estimated bytes per atomic commit: KV allows 819,200 (800 KiB) in total. */
const MAX_BYTES_PER_COMMIT = 400 * 1024;

/** Settings of a history store. */
export interface HistoryStoreOptions {
  /** Milliseconds from a change to its write; a kill -9 loses at most this much (default 200). */
  intervalMs?: number;
  /** Where warnings go: failed writes, skipped records (default stderr). */
  warn?: (message: string) => void;
  /** The clock, in milliseconds since the epoch (the tracker's, for retention). */
  now?: () => number;
}

/** What opening the store found. */
export interface LoadReport {
  /** Records put back into the tracker. */
  restored: number;
  /** Of those, connections that were open when the previous process ended. */
  lost: number;
  /** Records deleted because retention no longer keeps them. */
  pruned: number;
  /** Records that were not connection records (deleted). */
  skipped: number;
}

type Mutation = { id: string; value?: ConnectionInfo; size: number };

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** SQLite's side files of a database in WAL mode, which hold the same records. */
const SIDE_FILES = ["", "-wal", "-shm"];

/**
 * Makes the store's directory (mode 0700, when it does not exist yet) and file (mode 0600)
 * before SQLite opens it: SQLite gives its `-wal` and `-shm` files the database file's mode, so
 * client addresses are never readable by other users, not even for a moment.
 */
async function createPrivately(path: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  const slash = path.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true, mode: 0o700 });
  (await Deno.open(path, { create: true, write: true, mode: 0o600 })).close();
  await restrictFiles(path);
}

/** Mode 0600 for the database file and whichever of its side files exist. */
async function restrictFiles(path: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  for (const suffix of SIDE_FILES) {
    try {
      await Deno.chmod(path + suffix, 0o600);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
}

/** The connection history of one data directory. */
export class HistoryStore {
  readonly #kv: Deno.Kv;
  readonly #tracker: ConnectionTracker;
  readonly #intervalMs: number;
  readonly #warn: (message: string) => void;
  readonly #now: () => number;
  /** Connections changed since the last write. */
  readonly #dirty = new Set<string>();
  /** Records to delete at the next write (retention, or a failed delete to retry). */
  readonly #deletes = new Set<string>();
  /** Closed connections in the store, oldest close first, with their last-seen time. */
  readonly #closedOrder = new Map<string, number>();
  #unsubscribe: () => void = () => {};
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<boolean> | undefined;
  #failing = 0;
  #closed = false;
  /** Totals so far: writes, records written and deleted, failed writes. */
  readonly stats = { flushes: 0, written: 0, deleted: 0, failures: 0 };

  private constructor(kv: Deno.Kv, tracker: ConnectionTracker, options: HistoryStoreOptions) {
    this.#kv = kv;
    this.#tracker = tracker;
    this.#intervalMs = options.intervalMs ?? 200;
    this.#warn = options.warn ?? ((line) => console.error(line));
    this.#now = options.now ?? Date.now;
  }

  /**
   * Opens (or creates) the store at `path`, restores its records into `tracker`, writes back
   * what changed (lost connections, pruned records) and starts recording. Call it before the
   * server accepts connections.
   * @throws Error with a one-line message when the file cannot be opened or read (not a
   *   database, no permission, a newer layout).
   */
  static async open(
    path: string,
    tracker: ConnectionTracker,
    options: HistoryStoreOptions = {},
  ): Promise<{ store: HistoryStore; report: LoadReport }> {
    let kv: Deno.Kv;
    try {
      await createPrivately(path);
      kv = await Deno.openKv(path);
    } catch (error) {
      throw new Error(`cannot open history store ${path}: ${message(error)}`);
    }
    try {
      const opened = await HistoryStore.attach(kv, tracker, options);
      // Its first writes have made SQLite's side files: an older run may have left them 0644.
      await restrictFiles(path);
      return opened;
    } catch (error) {
      kv.close();
      throw new Error(`cannot read history store ${path}: ${message(error)}`);
    }
  }

  /**
   * {@link HistoryStore.open} over a KV that is already open (tests wrap one to make writes
   * fail). The store closes `kv` when it is closed; on a throw the caller still owns it.
   */
  static async attach(
    kv: Deno.Kv,
    tracker: ConnectionTracker,
    options: HistoryStoreOptions = {},
  ): Promise<{ store: HistoryStore; report: LoadReport }> {
    const store = new HistoryStore(kv, tracker, options);
    const report = await store.#load();
    store.#unsubscribe = tracker.subscribe(store.#onEvent);
    await store.flush();
    return { store, report };
  }

  async #load(): Promise<LoadReport> {
    const schema = (await this.#kv.get<number>(["meta", "schema"])).value;
    if (schema === null) await this.#kv.set(["meta", "schema"], SCHEMA_VERSION);
    else if (schema !== SCHEMA_VERSION) {
      throw new Error(`layout version ${schema}, this server reads ${SCHEMA_VERSION}`);
    }
    const infos: ConnectionInfo[] = [];
    let skipped = 0;
    for await (const entry of this.#kv.list({ prefix: [CONNECTION_PREFIX] })) {
      if (isConnectionInfo(entry.value) && entry.key[1] === entry.value.connection_id) {
        infos.push(entry.value);
      } else {
        skipped++;
        await this.#kv.delete(entry.key);
      }
    }
    if (skipped > 0) this.#warn(`⚠️  history store: ${skipped} unreadable record(s) deleted`);
    const kept = this.#tracker.restore(infos);
    const keptIds = new Set(kept.map((conn) => conn.id));
    let lost = 0;
    for (const info of infos) {
      if (!keptIds.has(info.connection_id)) this.#deletes.add(info.connection_id);
      else if (info.state === "open") {
        lost++;
        this.#dirty.add(info.connection_id); // now closed with lost_at_restart
      }
    }
    for (const conn of kept.sort((a, b) => a.lastSeenMs - b.lastSeenMs)) {
      this.#closedOrder.set(conn.id, conn.lastSeenMs);
    }
    return { restored: kept.length, lost, pruned: this.#deletes.size, skipped };
  }

  /** The tracker subscriber: marks the connection dirty and arms the timer. Nothing else. */
  readonly #onEvent = (event: TrackerEvent): void => {
    this.#dirty.add(
      event.type === "migration" || event.type === "migration_outcome"
        ? event.connection_id
        : event.connection.connection_id,
    );
    this.#arm();
  };

  #arm(): void {
    if (this.#closed || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, this.#intervalMs);
  }

  /** Changes not yet written: connections to write or delete. */
  get pending(): number {
    return this.#dirty.size + this.#deletes.size;
  }

  /**
   * Writes every pending change now, after any write in progress. Resolves true when all of it
   * reached the file; false when a commit failed (logged; the rest is retried at the next
   * interval). Never rejects.
   */
  async flush(): Promise<boolean> {
    while (this.#flushing !== undefined) await this.#flushing;
    const write = this.#write();
    this.#flushing = write;
    try {
      return await write;
    } finally {
      if (this.#flushing === write) this.#flushing = undefined;
    }
  }

  async #write(): Promise<boolean> {
    const mutations = this.#collect();
    if (mutations.length === 0) return true;
    this.stats.flushes++;
    for (let start = 0; start < mutations.length;) {
      let end = start;
      let bytes = 0;
      while (
        end < mutations.length && end - start < MAX_MUTATIONS_PER_COMMIT &&
        (end === start || bytes + mutations[end].size <= MAX_BYTES_PER_COMMIT)
      ) bytes += mutations[end++].size;
      const op = this.#kv.atomic();
      for (let i = start; i < end; i++) {
        const { id, value } = mutations[i];
        if (value === undefined) op.delete([CONNECTION_PREFIX, id]);
        else op.set([CONNECTION_PREFIX, id], value);
      }
      try {
        await op.commit();
      } catch (error) {
        this.#requeue(mutations.slice(start));
        this.stats.failures++;
        // One line when writes start failing, not one per interval while the disk is full.
        if (this.#failing++ === 0) {
          this.#warn(
            `⚠️  history store: write failed, retrying every ${this.#intervalMs} ms: ${
              message(error)
            }`,
          );
        }
        this.#arm();
        return false;
      }
      for (let i = start; i < end; i++) {
        if (mutations[i].value === undefined) this.stats.deleted++;
        else this.stats.written++;
      }
      start = end;
    }
    if (this.#failing > 0) {
      this.#warn(`✅ history store: writing again after ${this.#failing} failed attempt(s)`);
      this.#failing = 0;
    }
    return true;
  }

  /** Turns the pending changes into mutations, and applies retention to the stored records. */
  #collect(): Mutation[] {
    const writes = new Map<string, Mutation>();
    const closed: TrackedConnection[] = [];
    for (const id of this.#dirty) {
      const conn = this.#tracker.get(id);
      if (conn === undefined) {
        // Already forgotten by the tracker (retention): nothing to keep.
        this.#deletes.add(id);
        continue;
      }
      const { value, size } = fitForStorage(conn.toJSON());
      writes.set(id, { id, value, size });
      if (conn.state === "closed") closed.push(conn);
    }
    this.#dirty.clear();
    // Dirty ids come in order of their first event; retention needs the order of the closes.
    for (const conn of closed.sort((a, b) => a.lastSeenMs - b.lastSeenMs)) {
      this.#closedOrder.delete(conn.id);
      this.#closedOrder.set(conn.id, conn.lastSeenMs);
    }
    for (const id of this.#expired()) this.#deletes.add(id);
    for (const id of this.#deletes) {
      writes.delete(id);
      this.#closedOrder.delete(id);
    }
    const deletes = [...this.#deletes].map((id) => ({ id, size: 64 }));
    this.#deletes.clear();
    return [...writes.values(), ...deletes];
  }

  /** Stored closed connections that retention drops now (oldest first, as the tracker does). */
  #expired(): string[] {
    const { closedRetentionMs, maxClosed } = this.#tracker.retention;
    const cutoff = this.#now() - closedRetentionMs;
    const out: string[] = [];
    for (const [id, lastSeenMs] of this.#closedOrder) {
      const excess = this.#closedOrder.size - out.length > maxClosed;
      if (!excess && lastSeenMs >= cutoff && this.#tracker.get(id) !== undefined) break;
      out.push(id);
    }
    return out;
  }

  #requeue(mutations: Mutation[]): void {
    for (const { id, value } of mutations) {
      if (value === undefined) this.#deletes.add(id);
      else this.#dirty.add(id);
    }
  }

  /**
   * Stops recording, writes what is pending and closes the file. Resolves whether that last
   * write succeeded (a failure is logged); never rejects. Idempotent.
   */
  async close(): Promise<boolean> {
    if (this.#closed) return true;
    this.#closed = true;
    this.#unsubscribe();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const ok = await this.flush();
    this.#kv.close();
    return ok;
  }
}
