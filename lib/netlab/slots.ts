/**
 * Which run owns which slot, so two runs can coexist and a crashed run's leftovers are removed.
 *
 * A run claims slot `s` by creating `/run/quic-netlab/<s>.json` exclusively (holding its PID and
 * the process's start time) *before* it creates anything, and removes the file *after* it has
 * removed everything. So on start, any slot whose file names a dead process, and any lab name
 * (namespace, link, nftables table) whose slot has no file, is a leftover: {@link reclaimStale}
 * tears it down. `kill -9` leaves both behind; the next run cleans them.
 * @module
 */

import { NAME_PREFIX, SLOT_COUNT, slotOfName, teardownCommands, UPLINKS } from "./topology.ts";
import { namespaceName } from "./topology.ts";
import { runCommand } from "./system.ts";

/** Where runs record the slots they own (tmpfs: gone after a reboot, as namespaces are). */
export const STATE_DIR = "/run/quic-netlab";

/** What a slot's file holds. */
interface SlotOwner {
  pid: number;
  /** The process's start time in clock ticks since boot (from /proc), to survive PID reuse. */
  startTime: string;
}

/** A file younger than this whose content is not readable yet is being written: not stale. */
const FRESH_FILE_MS = 10_000;

/** The start time of process `pid` (field 22 of /proc/<pid>/stat), or undefined if it is gone. */
export async function processStartTime(pid: number): Promise<string | undefined> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    // The command name (field 2) may hold spaces and parentheses: split after its last ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/**
 * Claims a free slot for this process: not owned by another run and with no address of its
 * internet segment (198.18.<slot>.0/24) already on this machine.
 * @throws {Error} when all slots are taken.
 */
export async function claimSlot(): Promise<number> {
  await Deno.mkdir(STATE_DIR, { recursive: true, mode: 0o700 });
  const used = await usedSegments();
  const owner: SlotOwner = {
    pid: Deno.pid,
    startTime: (await processStartTime(Deno.pid)) ?? "",
  };
  for (let slot = 0; slot < SLOT_COUNT; slot++) {
    if (used.has(slot)) continue;
    let file: Deno.FsFile;
    try {
      file = await Deno.open(slotFile(slot), { createNew: true, write: true, mode: 0o600 });
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) continue;
      throw error;
    }
    try {
      await file.write(new TextEncoder().encode(JSON.stringify(owner) + "\n"));
    } finally {
      file.close();
    }
    return slot;
  }
  throw new Error(`all ${SLOT_COUNT} lab slots are in use (see ${STATE_DIR})`);
}

/** Gives slot `slot` back (after everything in it was removed). */
export async function releaseSlot(slot: number): Promise<void> {
  await Deno.remove(slotFile(slot)).catch(() => {});
}

/**
 * Tears down what dead runs left: slots whose owner is gone, and lab names without an owner.
 * Returns the slots it cleaned.
 */
export async function reclaimStale(): Promise<number[]> {
  // Names first, owners second: a name is only ever created after its slot's file, so a name
  // read before the files cannot belong to a run whose file the listing misses.
  const named = await slotsInUseByName();
  const owned = new Map<number, boolean>(); // slot → owner alive
  for await (const entry of readDirIfPresent(STATE_DIR)) {
    const match = /^(\d{1,3})\.json$/.exec(entry.name);
    if (match === null || !entry.isFile) continue;
    owned.set(Number(match[1]), await ownerAlive(slotFile(Number(match[1]))));
  }
  const stale = new Set<number>();
  for (const [slot, alive] of owned) if (!alive) stale.add(slot);
  for (const slot of named) if (!owned.has(slot)) stale.add(slot);
  for (const slot of stale) {
    await teardownSlot(slot);
    await releaseSlot(slot);
  }
  return [...stale].sort((a, b) => a - b);
}

/**
 * Ends every process inside slot `slot`'s namespaces (SIGTERM, then SIGKILL for those left after
 * a bounded wait), then runs its teardown commands, ignoring what is already gone. Besides the
 * lab's own namespaces, any other namespace named for the slot (`qnl<s>-…`, as the bench's
 * client namespaces are) is removed too, with the veths inside it.
 */
export async function teardownSlot(slot: number, graceMs = 2000): Promise<void> {
  const own = (["client", ...UPLINKS] as const).map((role) => namespaceName(slot, role));
  const others = (await namespacesOfSlot(slot)).filter((ns) => !own.includes(ns));
  await endProcessesIn([...own, ...others], graceMs);
  // The kernel destroys a deleted namespace's devices later, on its own: a veth whose root end
  // outlives `ip netns del` by a moment is a leftover to whoever looks next. Deleting the root
  // end first removes both ends before the command returns.
  for (const link of await rootLinksOfSlot(slot)) {
    await runCommand({ argv: ["ip", "link", "del", link] });
  }
  for (const ns of others) await runCommand({ argv: ["ip", "netns", "del", ns] });
  for (const command of teardownCommands(slot)) await runCommand(command);
}

/** Every link in the root namespace whose name belongs to slot `slot`. */
async function rootLinksOfSlot(slot: number): Promise<string[]> {
  return (await rootLinkNames())
    .filter((name) => name.startsWith(NAME_PREFIX) && slotOfName(name) === slot);
}

async function rootLinkNames(): Promise<string[]> {
  const links = await runCommand({ argv: ["ip", "-o", "link", "show"] });
  return links.stdout.split("\n").map((line) => line.split(": ")[1]?.split("@")[0] ?? "");
}

/** Every network namespace on this machine whose name belongs to slot `slot`. */
async function namespacesOfSlot(slot: number): Promise<string[]> {
  const listed = await runCommand({ argv: ["ip", "netns", "list"] });
  return listed.stdout.split("\n").map((line) => line.split(" ")[0])
    .filter((name) => name.startsWith(NAME_PREFIX) && slotOfName(name) === slot);
}

/** Ends every process in `namespaces`: SIGTERM, then SIGKILL for those left after `graceMs`. */
export async function endProcessesIn(namespaces: string[], graceMs: number): Promise<void> {
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    const pids = await pidsIn(namespaces);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        Deno.kill(pid, signal);
      } catch {
        // already gone
      }
    }
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && (await pidsIn(namespaces)).length > 0) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

async function pidsIn(namespaces: string[]): Promise<number[]> {
  const pids: number[] = [];
  for (const ns of namespaces) {
    const result = await runCommand({ argv: ["ip", "netns", "pids", ns] });
    if (result.code !== 0) continue;
    for (const line of result.stdout.split("\n")) if (/^\d+$/.test(line)) pids.push(Number(line));
  }
  return pids;
}

async function ownerAlive(path: string): Promise<boolean> {
  let owner: SlotOwner;
  try {
    owner = JSON.parse(await Deno.readTextFile(path));
  } catch {
    // Unreadable or half written: a run is creating it right now, unless it is old.
    const modified = (await Deno.stat(path).catch(() => undefined))?.mtime?.getTime() ?? 0;
    return Date.now() - modified < FRESH_FILE_MS;
  }
  const startTime = await processStartTime(owner.pid);
  return startTime !== undefined && startTime === owner.startTime;
}

/** Slots named by any lab namespace, root link or root nftables table on this machine. */
async function slotsInUseByName(): Promise<Set<number>> {
  const names: string[] = [];
  const netns = await runCommand({ argv: ["ip", "netns", "list"] });
  names.push(...netns.stdout.split("\n").map((line) => line.split(" ")[0]));
  names.push(...await rootLinkNames());
  const tables = await runCommand({ argv: ["nft", "list", "tables", "ip"] });
  names.push(...tables.stdout.split("\n").map((line) => line.split(" ")[2] ?? ""));
  const slots = new Set<number>();
  for (const name of names) {
    if (!name.startsWith(NAME_PREFIX)) continue;
    const slot = slotOfName(name);
    if (slot !== undefined) slots.add(slot);
  }
  return slots;
}

/** Third octets of 198.18.x.y addresses already on this machine's root namespace. */
async function usedSegments(): Promise<Set<number>> {
  const result = await runCommand({ argv: ["ip", "-4", "-o", "addr", "show"] });
  const used = new Set<number>();
  for (const match of result.stdout.matchAll(/inet 198\.18\.(\d{1,3})\./g)) {
    used.add(Number(match[1]));
  }
  return used;
}

function slotFile(slot: number): string {
  return `${STATE_DIR}/${slot}.json`;
}

async function* readDirIfPresent(path: string): AsyncGenerator<Deno.DirEntry> {
  try {
    yield* Deno.readDir(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}
