/**
 * Sums a V8 sampling heap profile (the DevTools protocol's `HeapProfiler.stopSampling` result)
 * by allocation site, so the question "which code allocates what survives the young
 * generation" gets a short table instead of a tree to click through. A site is the allocating
 * frame and up to `depth - 1` of its callers; the runtime's own frames (`ext:` and `node:`
 * URLs) are kept, as an allocation inside `ReadableStream` says less than the project frame
 * that asked for the stream, which is why callers are part of the key.
 *
 * ```ts
 * const sites = sumBySite(profile, { depth: 3, root: "file:///repo/" });
 * for (const s of sites.slice(0, 20)) console.log(s.bytes, s.count, s.stack.join(" < "));
 * ```
 * @module
 */

/** A frame as the protocol gives it (`Runtime.CallFrame`, zero-based line). */
export interface ProfileCallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber?: number;
}

/** A node of the sampled allocation tree: a call path and the bytes sampled at its top. */
export interface ProfileNode {
  callFrame: ProfileCallFrame;
  selfSize: number;
  id: number;
  children: ProfileNode[];
}

/** One sampled allocation (its size and the node that made it). */
export interface ProfileSample {
  size: number;
  nodeId: number;
}

/** `HeapProfiler.SamplingHeapProfile`. */
export interface SamplingHeapProfile {
  head: ProfileNode;
  samples?: ProfileSample[];
}

/** Bytes and samples of one allocation site. */
export interface SiteTotal {
  /** The allocating frame first, then its callers, as `name (file:line)`. */
  stack: string[];
  /** Estimated bytes allocated there (V8 scales each sample up to its interval). */
  bytes: number;
  /** Samples taken there. */
  count: number;
}

/** How sites are formed. */
export interface SiteOptions {
  /** Frames per site: the allocating one and its nearest callers (at least 1). */
  depth: number;
  /** A URL prefix to drop from file names (the repository's `file://` URL), if any. */
  root?: string;
}

/** `name (file:line)` for one frame; the line is one-based, as editors show it. */
export function frameLabel(frame: ProfileCallFrame, root = ""): string {
  const name = frame.functionName === "" ? "(anonymous)" : frame.functionName;
  if (frame.url === "") return name;
  const file = root !== "" && frame.url.startsWith(root) ? frame.url.slice(root.length) : frame.url;
  return `${name} (${file}:${frame.lineNumber + 1})`;
}

/**
 * Totals per site, largest first. Sample counts come from `samples` when present; bytes from
 * each node's `selfSize`, which V8 has already scaled to an estimate of what was allocated.
 */
export function sumBySite(profile: SamplingHeapProfile, options: SiteOptions): SiteTotal[] {
  const depth = Math.max(1, options.depth);
  const countsByNode = new Map<number, number>();
  for (const sample of profile.samples ?? []) {
    countsByNode.set(sample.nodeId, (countsByNode.get(sample.nodeId) ?? 0) + 1);
  }
  const sites = new Map<string, SiteTotal>();
  // Depth-first with an explicit stack; the path holds the labels from the root down.
  const pending: { node: ProfileNode; path: string[] }[] = [{ node: profile.head, path: [] }];
  while (pending.length > 0) {
    const { node, path } = pending.pop()!;
    // The synthetic root frame "(root)" names no code.
    const here = node === profile.head ? path : [...path, frameLabel(node.callFrame, options.root)];
    if (node.selfSize > 0 && here.length > 0) {
      const stack = here.slice(-depth).reverse();
      const key = stack.join("\n");
      const site = sites.get(key) ?? { stack, bytes: 0, count: 0 };
      site.bytes += node.selfSize;
      site.count += countsByNode.get(node.id) ?? 0;
      sites.set(key, site);
    }
    for (const child of node.children) pending.push({ node: child, path: here });
  }
  return [...sites.values()].sort((a, b) => b.bytes - a.bytes);
}

/** Every byte the profile holds (the sum of all nodes' `selfSize`). */
export function totalBytes(profile: SamplingHeapProfile): number {
  let total = 0;
  const pending = [profile.head];
  while (pending.length > 0) {
    const node = pending.pop()!;
    total += node.selfSize;
    pending.push(...node.children);
  }
  return total;
}
