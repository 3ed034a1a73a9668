/**
 * One `netlab` run, end to end: build the lab, start the client in it, perform the schedule's
 * events while the client runs, then ask the server what it saw, print the report, and remove
 * the lab, also on Ctrl-C and SIGTERM (the client and everything else in the lab's namespaces
 * is ended first).
 * @module
 */

import { DEFAULT_VALIDATION_WINDOW_MS } from "../tracker/tracker.ts";
import { delay } from "./delay.ts";
import { timeline } from "./events.ts";
import { NetworkLab } from "./lab.ts";
import { loopbackTarget, type NetlabOptions, substituteServerIp } from "./options.ts";
import { buildReport, formatReport } from "./report.ts";
import { observedConnections, type ServerApi } from "./server_api.ts";

/** Where a run writes, and how its client is attached. */
export interface RunIO {
  /** The report. */
  stdout: (text: string) => void;
  /** Progress: the lab, each event, errors. */
  stderr: (text: string) => void;
  /** The client's stdin/stdout/stderr: this process's own, or none. */
  clientStdio: "inherit" | "null";
  /** Listen for SIGINT/SIGTERM (off in tests that run netlab in-process). */
  handleSignals: boolean;
}

/** How long the after-addresses of an event are looked for, for its log line. */
const WATCH_AFTER_EVENT_MS = 2000;
/** How long the client gets to end after SIGTERM before the lab's teardown kills it. */
const CLIENT_STOP_GRACE_MS = 3000;

/** Runs the lab with `options`; resolves with the exit code. */
export async function runLab(options: NetlabOptions, api: ServerApi, io: RunIO): Promise<number> {
  const log = (line: string) => io.stderr(`netlab: ${line}\n`);
  const stop = new AbortController();
  let signalExit: number | undefined;
  const listeners: Array<[Deno.Signal, () => void]> = [["SIGINT", 130], ["SIGTERM", 143]].map(
    ([signal, code]) => [signal as Deno.Signal, () => {
      signalExit ??= code as number;
      stop.abort();
    }],
  );
  if (io.handleSignals) {
    for (const [signal, fn] of listeners) {
      Deno.addSignalListener(signal, fn);
    }
  }
  let lab: NetworkLab | undefined;
  try {
    const dnatTo = loopbackTarget(options.server);
    try {
      lab = await NetworkLab.create({
        serverIps: options.serverIps,
        dnatTo,
        initialUplink: options.initialUplink,
        rate: options.rate,
        log,
      });
    } catch (error) {
      log(`cannot build the lab: ${messageOf(error)}`);
      return 1;
    }
    const { topology } = lab;
    log(
      `slot ${topology.slot}: client in namespace ${topology.clientNs} on ${lab.uplink}; ` +
        `server ${options.server.host} at ${topology.serverIps.join(", ")}` +
        (dnatTo === undefined ? "" : ` (→ ${dnatTo})`) +
        `; NAT public addresses wifi ${topology.uplinks.wifi.publicIp}, ` +
        `cellular ${topology.uplinks.cellular.publicIp}`,
    );
    if (stop.signal.aborted) return signalExit ?? 1;
    const argv = substituteServerIp(options.command, lab.serverIp);
    log(`client: ${argv.join(" ")}`);
    const since = Date.now();
    const child = lab.spawnClient(argv, io.clientStdio);
    let timedOut = false;
    const status = child.status;
    const ended = new AbortController();
    status.finally(() => ended.abort());
    const timeoutTimer = options.timeoutMs > 0
      ? setTimeout(() => {
        timedOut = true;
        log(`--timeout: stopping the client`);
        lab?.endClient(CLIENT_STOP_GRACE_MS);
      }, options.timeoutMs)
      : undefined;
    const either = AbortSignal.any([stop.signal, ended.signal]);
    try {
      const events = timeline({ events: options.events, periodic: options.periodic });
      for (let event = events.next(); !event.done && !either.aborted;) {
        const { kind, atMs, durationMs } = event.value;
        const wait = since + atMs - Date.now();
        if (wait > 0) await delay(wait, either);
        if (either.aborted) break;
        event = events.next();
        // The log line's wait for the new addresses never delays the next event.
        const nextAt = event.done ? Infinity : since + event.value.atMs;
        const watchMs = Math.min(WATCH_AFTER_EVENT_MS, nextAt - Date.now() - (durationMs ?? 0));
        await lab.perform({ kind, durationMs, watchMs }, either);
      }
      await Promise.race([status, abortedPromise(stop.signal)]);
      clearTimeout(timeoutTimer);
      if (signalExit !== undefined) {
        log(`stopped by ${signalExit === 130 ? "SIGINT" : "SIGTERM"}; removing the lab`);
        return signalExit;
      }
      const { code } = await status;
      const clientExitCode = timedOut ? 0 : code;
      log(`client exited with ${code}${timedOut ? " (stopped by --timeout)" : ""}`);
      const performed = await lab.finish();
      let connections;
      try {
        connections = await observedConnections(api, lab.publicIps, since, options.settleMs);
      } catch (error) {
        log(`cannot ask the server what it saw: ${messageOf(error)}`);
        return 1;
      }
      const report = buildReport({
        events: performed,
        connections,
        clientExitCode,
        validationWindowMs: DEFAULT_VALIDATION_WINDOW_MS,
      });
      io.stdout(formatReport(report));
      if (options.reportJson !== undefined) {
        const json = { slot: topology.slot, server_ips: topology.serverIps, ...report };
        await Deno.writeTextFile(options.reportJson, JSON.stringify(json, null, 2) + "\n");
      }
      return report.exitCode;
    } finally {
      clearTimeout(timeoutTimer);
      await lab.endClient(CLIENT_STOP_GRACE_MS);
      await status;
    }
  } finally {
    if (io.handleSignals) {
      for (const [signal, fn] of listeners) Deno.removeSignalListener(signal, fn);
    }
    await lab?.close();
  }
}

/** Resolves when `signal` aborts (never, if it does not). */
function abortedPromise(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
