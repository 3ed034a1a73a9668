/**
 * One running network lab: builds the topology of a claimed slot, runs a client program in its
 * namespace, performs events (switch, rebind, blackout) and records, per UDP flow, the NAT's
 * public address before each event and after it; tears everything down on {@link close}.
 *
 * The NATs' tables are read with `conntrack -L` right before each event and once at the end.
 * A rebinding and a switch both flush the mappings of the uplink the client leaves (or
 * rebinds), so the mapping a flow has in the next snapshot was made after the event: the
 * snapshot taken before event k+1 (or at the end) says where each flow of event k went, and
 * whether the server answered there.
 *
 * ```ts
 * const lab = await NetworkLab.create({ serverIps: 1, dnatTo: "127.0.0.1", initialUplink: "wifi" });
 * try {
 *   const child = lab.spawnClient(["gtlsclient", lab.serverIp, "9443"], "inherit");
 *   await lab.perform({ kind: "switch" });
 *   await child.status;
 *   const events = await lab.finish();
 * } finally {
 *   await lab.close();
 * }
 * ```
 * @module
 */

import { type NatMapping, parseConntrackLine } from "./conntrack.ts";
import { delay } from "./delay.ts";
import { describeEvent, type NetEventKind } from "./events.ts";
import type { FlowTransition, PerformedEvent } from "./report.ts";
import { claimSlot, endProcessesIn, reclaimStale, releaseSlot, teardownSlot } from "./slots.ts";
import { mustRun, runCommand } from "./system.ts";
import {
  blackoutEndCommand,
  blackoutStartCommand,
  forgetMappings,
  inClientNamespace,
  listMappingsCommand,
  planTopology,
  switchCommands,
  type Topology,
  type Uplink,
} from "./topology.ts";

/** How a lab is built. */
export interface LabOptions {
  serverIps: number;
  /** DNAT the first server address to this loopback address (a server listening on loopback). */
  dnatTo?: string;
  initialUplink: Uplink;
  rate?: string;
  /** Progress lines (each event with its addresses). */
  log?: (line: string) => void;
}

/** An event to perform now. */
export interface EventRequest {
  kind: NetEventKind;
  durationMs?: number;
  /** How long to watch for the flows' new public addresses, for the log line only. */
  watchMs?: number;
}

interface Draft {
  event: Omit<PerformedEvent, "flows">;
  before: NatMapping[];
  /** Mappings seen while watching right after the event, by client address. */
  early: Map<string, NatMapping>;
}

/** How often the log's after-addresses are looked up while watching. */
const WATCH_POLL_MS = 50;

/** A lab built on this machine; {@link close} removes it. */
export class NetworkLab {
  readonly topology: Topology;
  readonly #log: (line: string) => void;
  #current: Uplink;
  #clientStartedAt = Date.now();
  readonly #drafts: Draft[] = [];
  #closed: Promise<void> | undefined;

  private constructor(topology: Topology, options: LabOptions) {
    this.topology = topology;
    this.#current = options.initialUplink;
    this.#log = options.log ?? (() => {});
  }

  /**
   * Removes dead runs' leftovers, claims a slot and builds the lab in it.
   * @throws {Error} (a `CommandError` naming the command) if building fails; what was built is
   * removed first.
   */
  static async create(options: LabOptions): Promise<NetworkLab> {
    const reclaimed = await reclaimStale();
    if (reclaimed.length > 0) {
      options.log?.(`removed leftovers of crashed runs (slots ${reclaimed.join(", ")})`);
    }
    const slot = await claimSlot();
    const lab = new NetworkLab(
      planTopology({
        slot,
        serverIps: options.serverIps,
        dnatTo: options.dnatTo,
        initialUplink: options.initialUplink,
        rate: options.rate,
      }),
      options,
    );
    try {
      for (const command of lab.topology.setup) await mustRun(command);
    } catch (error) {
      await lab.close();
      throw error;
    }
    return lab;
  }

  /** The server's (first) address on the internet segment: `{server_ip}`. */
  get serverIp(): string {
    return this.topology.serverIps[0];
  }

  /** The uplink the client is on now. */
  get uplink(): Uplink {
    return this.#current;
  }

  /** Both NATs' public addresses. */
  get publicIps(): string[] {
    return [this.topology.uplinks.wifi.publicIp, this.topology.uplinks.cellular.publicIp];
  }

  /** The environment a client gets. */
  clientEnv(): Record<string, string> {
    return {
      NETLAB_SERVER_IP: this.serverIp,
      NETLAB_SERVER_IPS: this.topology.serverIps.join(","),
      NETLAB_NETNS: this.topology.clientNs,
    };
  }

  /** Starts `argv` inside the client namespace; event times count from now. */
  spawnClient(argv: string[], stdio: "inherit" | "null"): Deno.ChildProcess {
    const [cmd, ...args] = inClientNamespace(this.topology, argv);
    const child = new Deno.Command(cmd, {
      args,
      env: this.clientEnv(),
      stdin: stdio,
      stdout: stdio,
      stderr: stdio,
    }).spawn();
    this.#clientStartedAt = Date.now();
    return child;
  }

  /** `uplink`'s NAT mappings of flows to the server's addresses, now. */
  async mappings(uplink: Uplink): Promise<NatMapping[]> {
    const result = await runCommand(listMappingsCommand(this.topology, uplink));
    const servers = new Set(this.topology.serverIps);
    return result.stdout.split("\n").map(parseConntrackLine).filter((m): m is NatMapping =>
      m !== undefined && servers.has(m.server.slice(0, m.server.lastIndexOf(":")))
    );
  }

  /**
   * Performs one event now, then watches for up to `watchMs` for the flows' new public
   * addresses and logs the event with its addresses before and after.
   */
  async perform(request: EventRequest, signal?: AbortSignal): Promise<void> {
    const from = this.#current;
    const before = await this.mappings(from);
    const wallTimeMs = Date.now();
    let to = from;
    if (request.kind === "rebind") {
      await runCommand(forgetMappings(this.topology, from)); // exit 1 when there was none
    } else if (request.kind === "switch") {
      to = from === "wifi" ? "cellular" : "wifi";
      for (const command of switchCommands(this.topology, from, to)) {
        if (command.argv.includes("conntrack")) await runCommand(command);
        else await mustRun(command);
      }
      this.#current = to;
    } else {
      await mustRun(blackoutStartCommand(this.topology, from));
      try {
        await delay(request.durationMs ?? 0, signal);
      } finally {
        await mustRun(blackoutEndCommand(this.topology, from));
      }
    }
    const draft: Draft = {
      event: {
        index: this.#drafts.length,
        kind: request.kind,
        ...(request.durationMs === undefined ? {} : { durationMs: request.durationMs }),
        atMs: wallTimeMs - this.#clientStartedAt,
        wallTimeMs,
        from,
        to,
      },
      before,
      early: new Map(),
    };
    this.#drafts.push(draft);
    await this.#watch(draft, request.watchMs ?? 0, signal);
    const afterText = before.map((m) => draft.early.get(m.client)?.public ?? "(nothing sent yet)");
    this.#log(
      `+${(draft.event.atMs / 1000).toFixed(3)}s ${describeEvent(request)} ` +
        `${request.kind === "switch" ? `${from} → ${to}` : `on ${from}`}: ` +
        (before.length === 0
          ? "no flow to the server"
          : before.map((m, i) => `${m.public} → ${afterText[i]}`).join(", ")),
    );
  }

  /**
   * Takes the last snapshot and returns every performed event with, per flow, where it went.
   * Call after the client has ended, before {@link close}.
   */
  async finish(): Promise<PerformedEvent[]> {
    const finalSnapshot = await this.mappings(this.#current);
    return this.#drafts.map((draft, k) => {
      const next = this.#drafts[k + 1]?.before ?? finalSnapshot;
      const flows = draft.before.map((m): FlowTransition => {
        const later = next.find((n) => n.client === m.client && n.server === m.server);
        const early = draft.early.get(m.client);
        const after = early?.public ?? later?.public;
        const replied = (later !== undefined && later.public === after && later.replied) ||
          (early?.replied ?? false);
        return {
          client: m.client,
          before: m.public,
          ...(after === undefined ? {} : { after }),
          replied,
        };
      });
      return { ...draft.event, flows };
    });
  }

  /** Ends the client and everything else running in its namespace (SIGTERM, then SIGKILL). */
  endClient(graceMs = 3000): Promise<void> {
    return endProcessesIn([this.topology.clientNs], graceMs);
  }

  /** Ends every process in the lab and removes all of it; safe to call more than once. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await teardownSlot(this.topology.slot);
      await releaseSlot(this.topology.slot);
    })();
    return this.#closed;
  }

  async #watch(draft: Draft, watchMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + watchMs;
    const wanted = new Set(draft.before.map((m) => m.client));
    while (wanted.size > 0 && Date.now() < deadline && !signal?.aborted) {
      for (const m of await this.mappings(draft.event.to)) {
        if (!wanted.has(m.client)) continue;
        const old = draft.before.find((b) => b.client === m.client);
        // A blackout keeps the mapping: the same one is no news unless it is all there is.
        if (draft.event.kind === "blackout" || m.public !== old?.public) {
          draft.early.set(m.client, m);
          wanted.delete(m.client);
        }
      }
      if (wanted.size > 0) await delay(WATCH_POLL_MS, signal);
    }
  }
}
