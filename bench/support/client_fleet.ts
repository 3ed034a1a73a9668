/**
 * Client namespaces for benchmarks that need many client source addresses: nginx's
 * `hash $remote_addr consistent` sends every client from one address to one node, and
 * `gtlsclient` cannot choose its source address, so each client process runs inside one of K
 * network namespaces, each with an address of its own.
 *
 * One fleet owns a network lab slot `s` (claimed and released as `lib/netlab` does, so a crashed
 * run's leftovers are removed by the next lab or fleet):
 *
 * ```
 *  root namespace: bridge qnl<s>, servers' addresses 198.18.s.1 … 198.18.s.S
 *    ├─ veth qnl<s>-k0 ── eth0 198.18.s.101 in namespace qnl<s>-k0
 *    ├─ veth qnl<s>-k1 ── eth0 198.18.s.102 in namespace qnl<s>-k1
 *    └─ …
 * ```
 *
 * One segment, no router and no NAT: a server bound to a server address sees each namespace's
 * own address. Every address is in RFC 2544's benchmarking range and lives only on this fleet's
 * bridge and veths. {@link planClientFleet} is sans-IO; {@link ClientFleet} runs the plan.
 *
 * ```ts
 * const fleet = await ClientFleet.create({ serverIps: 2, clients: 16 });
 * try {
 *   // a server binds fleet.plan.serverIps[0]; then:
 *   await new Deno.Command(fleet.plan.clients[3].enter[0], { args: [...] }).output();
 * } finally {
 *   await fleet.close();
 * }
 * ```
 * @module
 */

import { claimSlot, reclaimStale, releaseSlot, teardownSlot } from "../../lib/netlab/slots.ts";
import { mustRun } from "../../lib/netlab/system.ts";
import { type Command, NAME_PREFIX, SLOT_COUNT } from "../../lib/netlab/topology.ts";

/** Most server addresses a fleet gives the root namespace (198.18.s.1 …). */
export const MAX_SERVER_IPS = 32;
/** Most client namespaces of one fleet (198.18.s.101 …). */
export const MAX_CLIENTS = 64;
/** The first client's host number on the segment. */
const CLIENT_HOST_BASE = 101;

/** What a fleet is made of. */
export interface FleetInput {
  /** The network lab slot (0–255): the segment's third octet and the names' suffix. */
  slot: number;
  /** Addresses the root namespace gets for servers, 1–{@link MAX_SERVER_IPS}. */
  serverIps: number;
  /** Client namespaces, 1–{@link MAX_CLIENTS}. */
  clients: number;
}

/** One client namespace. */
export interface FleetClient {
  namespace: string;
  /** Its address: the source every server sees from it. */
  ip: string;
  /** The argv prefix that runs a program inside it (`nsenter`: only the network changes). */
  enter: string[];
}

/** Everything one fleet creates, and the commands for it. */
export interface ClientFleetPlan {
  slot: number;
  bridge: string;
  /** The root namespace's addresses on the segment, for servers to bind. */
  serverIps: string[];
  clients: FleetClient[];
  setup: Command[];
}

/** The plan of one fleet; throws a RangeError naming the input that is out of range. */
export function planClientFleet(input: FleetInput): ClientFleetPlan {
  const { slot } = input;
  checkRange("slot", slot, 0, SLOT_COUNT - 1);
  checkRange("serverIps", input.serverIps, 1, MAX_SERVER_IPS);
  checkRange("clients", input.clients, 1, MAX_CLIENTS);
  const bridge = `${NAME_PREFIX}${slot}`;
  const serverIps = Array.from({ length: input.serverIps }, (_, i) => `198.18.${slot}.${1 + i}`);
  const clients = Array.from({ length: input.clients }, (_, i): FleetClient => {
    const namespace = `${NAME_PREFIX}${slot}-k${i}`;
    return {
      namespace,
      ip: `198.18.${slot}.${CLIENT_HOST_BASE + i}`,
      enter: ["nsenter", `--net=/run/netns/${namespace}`],
    };
  });
  const setup: Command[] = [
    ip("link", "add", bridge, "type", "bridge"),
    ...serverIps.map((addr) => ip("addr", "add", `${addr}/24`, "dev", bridge)),
    ip("link", "set", bridge, "up"),
  ];
  for (const client of clients) {
    const ns = client.namespace;
    setup.push(
      ip("netns", "add", ns),
      // The root end has the namespace's name (links and namespaces are named apart), and the
      // inner end is created in place, so no temporary name can clash with another run.
      ip("link", "add", ns, "type", "veth", "peer", "name", "eth0", "netns", ns),
      ip("link", "set", ns, "master", bridge, "up"),
      ip("-n", ns, "link", "set", "lo", "up"),
      ip("-n", ns, "addr", "add", `${client.ip}/24`, "dev", "eth0"),
      ip("-n", ns, "link", "set", "eth0", "up"),
    );
  }
  return { slot, bridge, serverIps, clients, setup };
}

/**
 * The shell script that starts `count` copies of `argv` at once, copy i in client namespace
 * i mod K (so the fleet's addresses are used in turn), waits for all, and prints the CPU time
 * they used (`times`). A copy that fails writes `client exit N` on stderr.
 */
export function spreadClientsScript(
  clients: readonly FleetClient[],
  argv: readonly string[],
  count: number,
): string {
  const program = argv.join(" ");
  const namespaces = clients.map((c) => c.namespace).join(" ");
  const enter = clients[0].enter[0];
  return `i=0; while [ $i -lt ${count} ]; do for ns in ${namespaces}; do ` +
    `[ $i -lt ${count} ] || break; ` +
    `(${enter} --net=/run/netns/$ns ${program} >/dev/null || echo "client exit $?" >&2) & ` +
    "i=$((i+1)); done; done; wait; times";
}

/** A fleet built on this machine; {@link close} removes it. Needs root (CAP_NET_ADMIN). */
export class ClientFleet {
  #closed: Promise<void> | undefined;

  private constructor(readonly plan: ClientFleetPlan) {}

  /**
   * Removes dead runs' leftovers, claims a slot and builds the fleet in it.
   * @throws {Error} (a `CommandError` naming the command) if building fails; what was built is
   * removed first.
   */
  static async create(input: Omit<FleetInput, "slot">): Promise<ClientFleet> {
    await reclaimStale();
    const slot = await claimSlot();
    let plan: ClientFleetPlan;
    try {
      plan = planClientFleet({ ...input, slot });
    } catch (error) {
      await releaseSlot(slot);
      throw error;
    }
    const fleet = new ClientFleet(plan);
    try {
      for (const command of plan.setup) await mustRun(command);
    } catch (error) {
      await fleet.close();
      throw error;
    }
    return fleet;
  }

  /**
   * Ends every process in the fleet's namespaces, removes all of it and gives the slot back;
   * safe to call more than once.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      // teardownSlot finds every namespace named for the slot, so a half-built fleet goes too.
      await teardownSlot(this.plan.slot);
      await releaseSlot(this.plan.slot);
    })();
    return this.#closed;
  }
}

function checkRange(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, not ${value}`);
  }
}

function ip(...args: string[]): Command {
  return { argv: ["ip", ...args] };
}
