/**
 * Starts the whole server: certificates, the Hono app, HTTP/3 on UDP and HTTPS on TCP, on the
 * same port number. `main.ts` calls it with the command line's settings; tests call it with
 * port 0 and get a free port.
 *
 * ```ts
 * const server = await startServer({ hostname: "127.0.0.1", port: 0, dataDir: tmp });
 * console.log(server.port);
 * await server.shutdown();
 * ```
 * @module
 */

import { createApp } from "./app.ts";
import { ensureDevCertificates, loadCertificates } from "./certs.ts";
import type { ServerCertificates } from "./certs.ts";
import { type LogFormat, Logger } from "./log.ts";
import { ConnectionTracker, type TrackerOptions } from "./tracker/tracker.ts";
import { resolveAdminToken } from "./access/admin_token.ts";
import { parseAddr } from "./addr.ts";
import { DEFAULT_LAB_HOST, defaultConfig } from "./cli/server_config.ts";
import { MigrationLab } from "./lab/lab.ts";
import { UdpRelay } from "./lab/udp_relay.ts";
import { Metrics } from "./metrics/metrics.ts";
import { HistoryStore } from "./store/history_store.ts";
import { logTrackerEvents } from "./server/log_events.ts";
import { MigrationWatcher, watcherMetrics } from "./server/migration_watcher.ts";
import { startQuicListener } from "./server/quic_listener.ts";
import { startTcpListener, TcpConnectionSlots } from "./server/tcp_listener.ts";
import { defaultLimits, type ServerLimits } from "./limits.ts";
import type { DashboardVisibility } from "./access/visibility.ts";
import { ClusterState } from "./cluster/cluster_state.ts";
import { bindPortPair } from "./server/port_pair.ts";
import { closesReported } from "./tracker/closes_reported.ts";
import {
  receiveBufferMetrics,
  type ReceiveBufferReport,
  UdpReceiveBuffer,
} from "./udp_receive_buffer.ts";

/** What `startServer` needs. */
export interface StartOptions {
  hostname: string;
  /** UDP and TCP port; 0 picks a free one (the same number for both). */
  port: number;
  dataDir: string;
  certFile?: string;
  keyFile?: string;
  logFormat?: LogFormat;
  /** Where log lines go; stdout by default, a no-op keeps tests quiet. */
  log?: (line: string) => void;
  maxIdleTimeout?: number;
  /** Milliseconds between migration checks of QUIC connections in use (default 50). */
  watchIntervalMs?: number;
  /** Milliseconds between migration checks of quiet QUIC connections (default 500). */
  watchQuietIntervalMs?: number;
  /** Most connections one watcher slice reads (default: the watcher's; for benchmarks). */
  watchMaxReadsPerSlice?: number;
  /** Tracker limits and timing. */
  tracker?: TrackerOptions;
  /**
   * The migration lab's port (UDP relay into our QUIC endpoint, and HTTPS with an `Alt-Svc`
   * pointing at it); 0 picks a free one, undefined turns the lab off.
   */
  labPort?: number;
  /**
   * Where the lab listens, UDP and TCP (default `localhost`: 127.0.0.1, and ::1 when it can be
   * bound). Apart from `hostname`, so the lab stays off the network unless asked.
   */
  labHostname?: string;
  /** Token for administrative API calls; generated when absent. */
  adminToken?: string;
  /**
   * Keep a generated admin token in `<dataDir>/admin-token` and reuse it across restarts
   * (default false: tests get a fresh one per server).
   */
  keepAdminToken?: boolean;
  /**
   * Offer HTTP/2 over TCP besides HTTP/1.1 (default false: in Deno 2.9.6 a peer's GOAWAY can
   * abort the process in `node:http2`; see `tcp_listener.ts`).
   */
  tcpHttp2?: boolean;
  /** Resource limits; each one not given keeps its default (see `lib/limits.ts`). */
  limits?: Partial<ServerLimits>;
  /** Who sees other clients' connections (default `localhost`). */
  publicDashboard?: DashboardVisibility;
  /** Cluster mode: this node behind a load balancer (see `lib/cli/cluster_options.ts`). */
  cluster?: ClusterNodeOptions;
  /**
   * Keep connection history in `<dataDir>/history.kv` across restarts, written `intervalMs`
   * (default 200) after each change; undefined turns it off (tests start without it).
   */
  history?: { intervalMs?: number };
}

/** How this server takes part in a cluster. */
export interface ClusterNodeOptions {
  /** This node's name in shared records. */
  nodeId?: string;
  /** Advertise the bind address as the QUIC preferred address. */
  advertisePreferredAddress?: boolean;
  /** The balancer's public `ip:port`: Alt-Svc names its port. */
  balancer?: string;
  /** IPs the balancer forwards from: leaving one is the preferred-address hand-off. */
  balancerSources?: readonly string[];
  /** Share records and events with the other nodes in this Redis; undefined: all local. */
  redisUrl?: string;
}

/** A running server. */
export interface RunningServer {
  readonly port: number;
  readonly tracker: ConnectionTracker;
  readonly watcher: MigrationWatcher;
  /** The lab's port, or undefined when the lab is off. */
  readonly labPort: number | undefined;
  readonly lab: MigrationLab | undefined;
  /** The lab's relay (its sessions and counters), or undefined when the lab is off. */
  readonly labRelay: UdpRelay | undefined;
  readonly adminToken: string;
  /** Where the admin token came from, for the banner (the token itself is never printed). */
  readonly adminTokenNote: string;
  readonly certificates: ServerCertificates & { caPem?: string };
  /** The connection history store, or undefined when persistence is off. */
  readonly history: HistoryStore | undefined;
  /** The Redis-shared cluster state, or undefined without a Redis URL. */
  readonly cluster: ClusterState | undefined;
  /** The QUIC socket's receive buffer: asked, given, and why not more. */
  readonly receiveBuffer: ReceiveBufferReport;
  /**
   * Drains both transports for up to `timeoutMs` (HTTP/3: GOAWAY; TCP: no new connections, idle
   * ones closed, answers in flight finished), then closes what is left and releases the ports.
   */
  shutdown(timeoutMs?: number): Promise<void>;
}

/** Starts the server and resolves once both listeners are bound. */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const certificates = options.certFile && options.keyFile
    ? await loadCertificates(options.certFile, options.keyFile)
    : await ensureDevCertificates(options.dataDir);
  const logger = new Logger(options.logFormat ?? "text", options.log);
  const tracker = new ConnectionTracker({
    ...options.tracker,
    balancerSources: new Set(options.cluster?.balancerSources ?? []),
  });
  // Restored before any listener starts, so old connections keep the first sequence numbers.
  const history = options.history && await openHistory(options, tracker, logger);
  // Subscribed before any listener starts; it writes once the node's id (its port) is known.
  const redisUrl = options.cluster?.redisUrl;
  const cluster = redisUrl === undefined ? undefined : new ClusterState(tracker, {
    redisUrl,
    warn: (line) => logger.event("cluster_warning", line, { message: line }),
  });
  try {
    return await startListeners(options, certificates, logger, tracker, history, cluster);
  } catch (error) {
    await Promise.all([history?.close(), cluster?.close(0)]);
    throw error;
  }
}

async function openHistory(
  options: StartOptions,
  tracker: ConnectionTracker,
  logger: Logger,
): Promise<HistoryStore> {
  await Deno.mkdir(options.dataDir, { recursive: true, mode: 0o700 }); // holds client addresses
  const { store, report } = await HistoryStore.open(`${options.dataDir}/history.kv`, tracker, {
    intervalMs: options.history?.intervalMs,
    warn: (line) => logger.event("history_warning", line, { message: line }),
  });
  logger.event(
    "history_loaded",
    `📚 History: ${report.restored} connections restored (${report.lost} lost at restart), ${report.pruned} past retention removed`,
    { ...report },
  );
  return store;
}

async function startListeners(
  options: StartOptions,
  certificates: ServerCertificates & { caPem?: string },
  logger: Logger,
  tracker: ConnectionTracker,
  history: HistoryStore | undefined,
  cluster: ClusterState | undefined,
): Promise<RunningServer> {
  const defaults = defaultConfig();
  const limits: ServerLimits = { ...defaultLimits(), ...options.limits };
  const watcher = new MigrationWatcher(
    tracker,
    options.watchIntervalMs ?? defaults.watchIntervalMs,
    {
      maxReadsPerSlice: options.watchMaxReadsPerSlice,
      maxReadsPerSecond: limits.watchMaxReadsPerSecond,
      quietIntervalMs: options.watchQuietIntervalMs ?? defaults.watchQuietIntervalMs,
    },
  );
  const unsubscribeLog = logTrackerEvents(tracker, logger);
  const metrics = new Metrics(tracker);
  const { token: adminToken, note: adminTokenNote } = await resolveAdminToken({
    given: options.adminToken,
    dataDir: options.dataDir,
    persist: options.keepAdminToken ?? false,
  });
  let lab: MigrationLab | undefined;
  let labPort: number | undefined;
  /** Known once the QUIC listener is bound; read by `GET /api/info` at request time. */
  const listening: { port?: number } = {};
  const app = await createApp({
    tracker,
    metrics,
    lab: () => lab,
    adminToken,
    labUrl: () => labPort === undefined ? "" : `https://localhost:${labPort}/`,
    publicDashboard: options.publicDashboard,
    mutatingRequestsPerSecond: limits.mutatingRequestsPerSecond,
    maxJsonBodyBytes: limits.maxJsonBodyBytes,
    maxEventStreams: limits.maxEventStreams,
    eventStreamBufferBytes: limits.eventStreamBufferBytes,
    cluster,
    facts: () =>
      listening.port === undefined ? undefined : {
        port: listening.port,
        labPort,
        host: options.hostname,
        spkiSha256Base64: certificates.spkiSha256Base64,
        devCertificate: !(options.certFile && options.keyFile),
      },
  });
  const bindQuic = () =>
    startQuicListener({
      hostname: options.hostname,
      port: options.port,
      cert: certificates.certPem,
      key: certificates.keyPem,
      fetch: app.fetch,
      tracker,
      watcher,
      maxIdleTimeout: options.maxIdleTimeout,
      maxConnections: limits.maxConnections,
      maxConcurrentStreams: limits.maxStreamsPerConnection,
      maxFieldSectionSize: limits.maxFieldSectionSize,
      maxRequestBodySize: limits.maxBodyBytes,
      headerTimeoutMs: limits.headerTimeoutMs,
      bodyTimeoutMs: limits.bodyTimeoutMs,
      onRefused: () => metrics.countRefused("quic"),
      advertisePreferredAddress: options.cluster?.advertisePreferredAddress,
      udpReceiveBufferBytes: limits.udpReceiveBufferBytes,
    });
  /** One cap for the TCP connections of both HTTPS listeners (the main port and the lab's). */
  const tcpSlots = new TcpConnectionSlots(limits.maxTcpConnections);
  /** HTTPS on TCP `tcpPort`, advertising HTTP/3 on the same port number. */
  // Behind a balancer, clients reach HTTP/3 on the balancer's port, not this node's.
  const balancerPort = options.cluster?.balancer === undefined
    ? undefined
    : parseAddr(options.cluster.balancer)?.port;
  const startTcp = (tcpPort: number, altSvcPort = tcpPort, hostname = options.hostname) =>
    startTcpListener({
      hostname,
      port: tcpPort,
      cert: certificates.certPem,
      key: certificates.keyPem,
      fetch: app.fetch,
      tracker,
      altSvc: `h3=":${altSvcPort}"; ma=86400`,
      slots: tcpSlots,
      maxBodyBytes: limits.maxBodyBytes,
      maxHeadBytes: limits.maxFieldSectionSize,
      onRefused: () => metrics.countRefused("tcp"),
      http2: options.tcpHttp2,
      headerTimeoutMs: limits.headerTimeoutMs,
      bodyTimeoutMs: limits.bodyTimeoutMs,
      sendTimeoutMs: limits.sendTimeoutMs,
    });
  const [quic, tcp] = await bindPortPair({
    anyPort: options.port === 0,
    bindUdp: bindQuic,
    portOf: (udp) => udp.addr.port,
    releaseUdp: (udp) => udp.shutdown(0),
    bindTcp: (port) => startTcp(port, balancerPort ?? port),
  });
  const port = quic.addr.port;
  listening.port = port;
  // The lab relay's sockets take every lab client's datagrams, bursts of handshakes included.
  const udpSockets = [{ role: "quic", buffer: quic.socketBuffer }];
  metrics.addSection(() => receiveBufferMetrics(udpSockets));
  metrics.addSection(() => watcherMetrics(watcher));
  if (cluster !== undefined) {
    metrics.addSection(() => cluster.renderMetrics());
    await cluster.start(options.cluster?.nodeId ?? `${options.hostname}:${port}`);
  }
  let relay: UdpRelay | undefined;
  const labTcp: Awaited<ReturnType<typeof startTcp>>[] = [];
  if (options.labPort !== undefined) {
    try {
      const [labHost, ...alsoLabHosts] = labListenHostnames(
        options.labHostname ?? DEFAULT_LAB_HOST,
      );
      const [labRelay, firstLabTcp] = await bindPortPair({
        anyPort: options.labPort === 0,
        bindUdp: () =>
          new UdpRelay({
            listenHostname: labHost,
            alsoListenOn: alsoLabHosts,
            listenPort: options.labPort,
            targetHostname: relayTarget(options.hostname),
            targetPort: port,
            maxSessions: limits.labMaxSessions,
            maxSessionsPerAddress: limits.labMaxSessionsPerAddress,
          }),
        portOf: (udp) => udp.port,
        releaseUdp: (udp) => udp.close(),
        bindTcp: (port, udp) => startTcp(port, port, udp.addrs[0].hostname),
      });
      relay = labRelay;
      labPort = relay.port;
      labTcp.push(firstLabTcp);
      const more = relay.addrs.slice(1);
      for (const addr of more) {
        try {
          labTcp.push(await startTcp(labPort, labPort, addr.hostname));
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          logger.event(
            "lab_listen_skipped",
            `🧪 Lab: no HTTPS on ${addr.hostname}:${labPort} (${reason}); HTTP/3 only there`,
            { hostname: addr.hostname, port: labPort, reason },
          );
        }
      }
      for (const hostname of relay.unboundHostnames) {
        logger.event(
          "lab_listen_skipped",
          `🧪 Lab: not listening on ${hostname} (cannot bind port ${labPort} there)`,
          { hostname, port: labPort },
        );
      }
      for (const addr of relay.addrs) {
        udpSockets.push({
          role: "lab",
          buffer: new UdpReceiveBuffer(addr, limits.udpReceiveBufferBytes),
        });
      }
      lab = new MigrationLab(relay, tracker);
    } catch (error) {
      await Promise.all([
        quic.shutdown(0),
        tcp.shutdown(0),
        relay?.close(),
        ...labTcp.map((listener) => listener.shutdown(0)),
      ]);
      throw error;
    }
  }
  return {
    port,
    tracker,
    watcher,
    labPort,
    lab,
    labRelay: relay,
    adminToken,
    adminTokenNote,
    certificates,
    history,
    cluster,
    receiveBuffer: quic.socketBuffer.report,
    async shutdown(timeoutMs = 5000) {
      await Promise.all([
        quic.shutdown(timeoutMs),
        tcp.shutdown(timeoutMs),
        ...labTcp.map((listener) => listener.shutdown(timeoutMs)),
      ]);
      for (const { role, buffer } of udpSockets) if (role === "lab") buffer.close();
      await relay?.close();
      watcher.stop();
      if (history !== undefined || cluster !== undefined) {
        await closesReported(tracker, 1000);
        // The final state, with the closes shutdown caused.
        await Promise.all([history?.close(), cluster?.close()]);
      }
      unsubscribeLog();
    },
  };
}

/** The addresses `--lab-host` stands for: `localhost` is both loopbacks, IPv4 first. */
function labListenHostnames(labHost: string): string[] {
  return labHost === "localhost" ? ["127.0.0.1", "::1"] : [labHost];
}

/** Where the lab relay sends: the bound IPv4 address, or loopback when bound to all. */
function relayTarget(hostname: string): string {
  return /^\d+\.\d+\.\d+\.\d+$/.test(hostname) && hostname !== "0.0.0.0" ? hostname : "127.0.0.1";
}
