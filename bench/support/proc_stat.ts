/**
 * Pure readings of Linux's `/proc/<pid>/stat`: a process's state, parent and CPU ticks, and the
 * descendants of a process from a table of parents. The `cluster` scenario sums the CPU time of
 * every process the cluster orchestrator started and checks that none is left once it stopped;
 * the I/O (reading `/proc`) is in `cluster_env.ts` and `process.ts`, these only parse.
 * @module
 */

/** What the `cluster` scenario needs from one `/proc/<pid>/stat` line. */
export interface ProcStat {
  /** One letter: R running, S sleeping, Z zombie, … */
  state: string;
  /** The parent's process id. */
  ppid: number;
  /** User + system time (all threads) in clock ticks (USER_HZ). */
  cpuTicks: number;
}

/**
 * Parses one `/proc/<pid>/stat` line; undefined when it is not one. The command name (field 2)
 * is in parentheses and may hold spaces and parentheses itself, so fields are counted from the
 * last `)`: state is field 3, ppid field 4, utime 14 and stime 15.
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const fields = text.slice(close + 2).trim().split(" ");
  const ppid = Number(fields[1]);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!/^[A-Za-z]$/.test(fields[0] ?? "") || ![ppid, utime, stime].every(Number.isInteger)) {
    return undefined;
  }
  return { state: fields[0], ppid, cpuTicks: utime + stime };
}

/**
 * Every descendant of `root` (children, grandchildren, …) given each process's parent, in
 * breadth-first order; `root` itself is not included. Bounded by the table's size, so a cycle in
 * a table read while processes came and went cannot loop.
 */
export function descendantsOf(root: number, parents: ReadonlyMap<number, number>): number[] {
  const found: number[] = [];
  const seen = new Set<number>([root]);
  let frontier = [root];
  for (let depth = 0; depth <= parents.size && frontier.length > 0; depth++) {
    const next: number[] = [];
    for (const [pid, ppid] of parents) {
      if (frontier.includes(ppid) && !seen.has(pid)) {
        seen.add(pid);
        found.push(pid);
        next.push(pid);
      }
    }
    frontier = next;
  }
  return found;
}
