/**
 * Test helpers for the network lab: the root check every netlab test starts with (they fail,
 * never skip, without root), and the list of what a slot left on this machine.
 * @module
 */

import { strict as assert } from "node:assert";
import { STATE_DIR } from "../../lib/netlab/slots.ts";
import { slotOfName } from "../../lib/netlab/topology.ts";

/** Fails the test with one clear line when it cannot build a lab. */
export function assertCanBuildLabs(): void {
  assert.equal(
    Deno.uid(),
    0,
    "the network lab tests need root (CAP_NET_ADMIN) for namespaces and nftables; CI runs them as root",
  );
}

async function output(argv: string[]): Promise<string> {
  const out = await new Deno.Command(argv[0], { args: argv.slice(1), stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout);
}

/**
 * Everything of slot `slot` still on this machine: namespaces, root links, root nftables
 * tables, the slot's state file. Empty when the lab was removed.
 */
export async function labLeftovers(slot: number): Promise<string[]> {
  const names = [
    ...(await output(["ip", "netns", "list"])).split("\n").map((l) => `netns ${l.split(" ")[0]}`),
    ...(await output(["ip", "-o", "link", "show"])).split("\n")
      .map((l) => `link ${l.split(": ")[1]?.split("@")[0] ?? ""}`),
    ...(await output(["nft", "list", "tables"])).split("\n")
      .map((l) => `nftables ${l.split(" ")[2] ?? ""}`),
  ].filter((entry) => slotOfName(entry.split(" ")[1]) === slot);
  try {
    await Deno.stat(`${STATE_DIR}/${slot}.json`);
    names.push(`state file ${STATE_DIR}/${slot}.json`);
  } catch {
    // removed, as it should be
  }
  return names;
}
