/**
 * The project's module graph as Deno resolves it (`deno info --json`), and the two checks the
 * architecture test makes of it: no import cycle, and no module importing a floor above its own.
 * The checks are pure functions over a graph, so they are tested on planted graphs too.
 *
 * ```ts
 * const graph = await moduleGraph(root, ["main.ts", "lib/app.ts"]);
 * const cycles = findCycles(graph);
 * ```
 * @module
 */

/** Module → the modules it imports (code and type imports alike), as repository paths. */
export type ModuleGraph = Map<string, Set<string>>;

/** One floor of the house: a name and the path prefixes that belong to it. */
export interface Floor {
  readonly level: number;
  readonly name: string;
  /** Repository paths or folder prefixes (ending in `/`); the longest match wins. */
  readonly paths: readonly string[];
}

/** An import that goes up: `from` on a lower floor imports `to` on a higher one. */
export interface UpwardImport {
  from: string;
  fromLevel: number;
  to: string;
  toLevel: number;
}

/**
 * Reads the graph of `entries` (repository paths) and everything they import, keeping only
 * modules inside `root` (a directory path). Runs `deno info --json` once on a module that imports
 * every entry.
 */
export async function moduleGraph(root: string, entries: readonly string[]): Promise<ModuleGraph> {
  const rootUrl = new URL(`file://${root.endsWith("/") ? root : root + "/"}`);
  const dir = await Deno.makeTempDir();
  try {
    const index = `${dir}/all.ts`;
    await Deno.writeTextFile(
      index,
      entries.map((entry) => `import ${JSON.stringify(new URL(entry, rootUrl).href)};`).join("\n"),
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", index],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    if (!output.success) {
      throw new Error(`deno info failed: ${new TextDecoder().decode(output.stderr).slice(0, 500)}`);
    }
    const info = JSON.parse(new TextDecoder().decode(output.stdout)) as DenoInfo;
    const inRepo = (specifier: string | undefined) =>
      specifier?.startsWith(rootUrl.href) ? specifier.slice(rootUrl.href.length) : undefined;
    const graph: ModuleGraph = new Map();
    for (const module of info.modules) {
      const from = inRepo(module.specifier);
      if (from === undefined) continue;
      const targets = new Set<string>();
      for (const dependency of module.dependencies ?? []) {
        for (const resolved of [dependency.code?.specifier, dependency.type?.specifier]) {
          const to = inRepo(resolved);
          if (to !== undefined) targets.add(to);
        }
      }
      graph.set(from, targets);
    }
    return graph;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

interface DenoInfo {
  modules: Array<{
    specifier: string;
    dependencies?: Array<{ code?: { specifier?: string }; type?: { specifier?: string } }>;
  }>;
}

/** The floor `path` is on: the one with the longest matching path or prefix. */
export function floorOf(floors: readonly Floor[], path: string): Floor | undefined {
  let best: Floor | undefined;
  let bestLength = -1;
  for (const floor of floors) {
    for (const prefix of floor.paths) {
      const matches = prefix.endsWith("/") ? path.startsWith(prefix) : path === prefix;
      if (matches && prefix.length > bestLength) {
        best = floor;
        bestLength = prefix.length;
      }
    }
  }
  return best;
}

/** Every import from a module to one on a higher floor (modules on no floor are skipped). */
export function upwardImports(graph: ModuleGraph, floors: readonly Floor[]): UpwardImport[] {
  const found: UpwardImport[] = [];
  for (const [from, targets] of graph) {
    const fromFloor = floorOf(floors, from);
    if (fromFloor === undefined) continue;
    for (const to of targets) {
      const toFloor = floorOf(floors, to);
      if (toFloor !== undefined && toFloor.level > fromFloor.level) {
        found.push({ from, fromLevel: fromFloor.level, to, toLevel: toFloor.level });
      }
    }
  }
  return found;
}

/**
 * The import cycles: each strongly connected group of two or more modules (or a module that
 * imports itself), as a sorted list of its members (Tarjan's algorithm, iterative).
 */
export function findCycles(graph: ModuleGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let counter = 0;
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work: Array<{ node: string; next: Iterator<string> }> = [];
    const enter = (node: string) => {
      index.set(node, counter);
      low.set(node, counter++);
      stack.push(node);
      onStack.add(node);
      work.push({ node, next: (graph.get(node) ?? new Set<string>()).values() });
    };
    enter(start);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const step = frame.next.next();
      if (!step.done) {
        const to = step.value;
        if (!index.has(to)) enter(to);
        else if (onStack.has(to)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(to)!));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].node;
        low.set(parent, Math.min(low.get(parent)!, low.get(frame.node)!));
      }
      if (low.get(frame.node) === index.get(frame.node)) {
        const group: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          group.push(member);
        } while (member !== frame.node);
        const selfLoop = graph.get(frame.node)?.has(frame.node) ?? false;
        if (group.length > 1 || selfLoop) cycles.push(group.sort());
      }
    }
  }
  return cycles;
}
