/**
 * The command line of `deno task bench` (`bench/run.ts`): which scenarios run, how many
 * interleaved rounds each comparison makes, and the sizes of a quick check.
 * @module
 */

/** The scenarios, in the order they run. */
export const SCENARIOS = [
  "one",
  "many",
  "bulk",
  "tcp",
  "migration",
  "idle",
  "tracker",
  "cluster",
] as const;

/** A scenario's name, as given to `--only`. */
export type ScenarioName = typeof SCENARIOS[number];

/** The parsed command line. */
export interface BenchOptions {
  /** The scenarios to run. */
  only: ScenarioName[];
  /** Small sizes and fewer rounds, for a quick check (results are not comparable). */
  quick: boolean;
  /** Interleaved rounds per comparison (each round runs every server once). */
  rounds: number;
  /** GETs per run of the one-connection comparison. */
  requests: number;
  /** Whether to run the in-process `deno bench` files first. */
  denoBench: boolean;
  /** Nodes of the cluster the `cluster` scenario compares with one node. */
  clusterNodes: number;
  /**
   * The results' file name under `bench/results/` (without `.md`/`.json`), for a run kept apart
   * from the day's results; undefined writes `<date>` (or `.data/bench-quick` with `--quick`).
   */
  out?: string;
}

/** The default number of rounds, and the least a run that is not `--quick` may ask for. */
const DEFAULT_ROUNDS = 5;

/** The default node count of the `cluster` scenario (the orchestrator's own default). */
const DEFAULT_CLUSTER_NODES = 3;

/** What `--help` prints. */
export const USAGE = `deno task bench [-- options]
  --only a,b,…     scenarios to run: ${SCENARIOS.join(", ")} (default: all)
  --quick          small sizes and 2 rounds: a quick check into .data/, not a result
  --rounds N       interleaved rounds per comparison, each running every server once
                   (default ${DEFAULT_ROUNDS}; 1–50, at least ${DEFAULT_ROUNDS} unless --quick or --out; --pairs is the old name)
  --requests N     GETs per one-connection run (default 20000; 2000 with --quick)
  --cluster-nodes N
                   nodes of the cluster scenario's cluster (default ${DEFAULT_CLUSTER_NODES}; 1–8)
  --out NAME       write bench/results/NAME.md and .json, apart from the day's results
                   (letters, digits, "-", "_" and "."; not with --quick)
  --no-deno-bench  skip the in-process micro-benchmarks`;

const VALUE_OPTIONS = ["--only", "--rounds", "--pairs", "--requests", "--cluster-nodes", "--out"];
const FLAGS = ["--quick", "--no-deno-bench"];

/** Parses the command line; throws an Error with a one-line message when it is wrong. */
export function parseOptions(given: string[]): BenchOptions {
  // `deno task bench -- --only one` hands the task a literal `--` first: it separates nothing.
  const args = given[0] === "--" ? given.slice(1) : given;
  for (const [i, arg] of args.entries()) {
    const isValue = i > 0 && VALUE_OPTIONS.includes(args[i - 1]);
    if (!isValue && !VALUE_OPTIONS.includes(arg) && !FLAGS.includes(arg)) {
      throw new Error(`unknown option ${JSON.stringify(arg)}`);
    }
  }
  const value = (name: string) => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    if (i + 1 >= args.length) throw new Error(`${name} needs a value`);
    return args[i + 1];
  };
  const int = (name: string, fallback: number, min: number, max: number) => {
    const raw = value(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!/^[0-9]+$/.test(raw) || n < min || n > max) {
      throw new Error(`${name} must be an integer from ${min} to ${max}`);
    }
    return n;
  };
  if (args.includes("--rounds") && args.includes("--pairs")) {
    throw new Error("give --rounds or --pairs, not both");
  }
  const quick = args.includes("--quick");
  const onlyRaw = value("--only");
  const only = onlyRaw === undefined ? [...SCENARIOS] : onlyRaw.split(",").map((s) => s.trim());
  for (const name of only) {
    if (!(SCENARIOS as readonly string[]).includes(name)) {
      throw new Error(`--only: unknown scenario ${JSON.stringify(name)} (${SCENARIOS.join(", ")})`);
    }
  }
  const out = value("--out");
  if (
    out !== undefined && (!/^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(out) || /\.(md|json)$/.test(out))
  ) {
    throw new Error(`--out ${JSON.stringify(out)}: a file name without a folder or an extension`);
  }
  if (out !== undefined && quick) throw new Error("--out and --quick: a quick check is no result");
  const roundsName = args.includes("--pairs") ? "--pairs" : "--rounds";
  // A run written apart may be short: it does not stand in for the day's results.
  const fewest = quick || out !== undefined ? 1 : DEFAULT_ROUNDS;
  return {
    only: SCENARIOS.filter((s) => only.includes(s)),
    quick,
    ...(out === undefined ? {} : { out }),
    rounds: int(roundsName, quick ? 2 : DEFAULT_ROUNDS, fewest, 50),
    requests: int("--requests", quick ? 2000 : 20_000, 1, 100_000),
    denoBench: !args.includes("--no-deno-bench") && !quick,
    clusterNodes: int("--cluster-nodes", DEFAULT_CLUSTER_NODES, 1, 8),
  };
}
