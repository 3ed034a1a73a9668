/**
 * The QUIC connection-migration server's entry point: parse the command line, start the
 * server, print how to reach it, and shut down gracefully on SIGINT/SIGTERM.
 * @module
 */

import { chromiumCommand } from "./lib/chromium_command.ts";
import { configOrExit } from "./lib/cli/config.ts";
import { advertisesPreferredAddress, balancerSources } from "./lib/cli/cluster_options.ts";
import { runCluster } from "./lib/cluster/cli.ts";
import { runMigrate } from "./lib/migrate/cli.ts";
import { runNetlab } from "./lib/netlab/cli.ts";
import { startServer } from "./lib/start_server.ts";
import { receiveBufferLine } from "./lib/udp_receive_buffer.ts";

if (import.meta.main) {
  if (Deno.args[0] === "migrate") Deno.exit(await runMigrate(Deno.args.slice(1)));
  if (Deno.args[0] === "netlab") Deno.exit(await runNetlab(Deno.args.slice(1)));
  if (Deno.args[0] === "cluster") Deno.exit(await runCluster(Deno.args.slice(1)));
  const config = configOrExit(Deno.args, Deno.env.toObject());
  let server;
  try {
    server = await startServer({
      hostname: config.host,
      port: config.port,
      labPort: config.labPort,
      labHostname: config.labHost,
      adminToken: config.adminToken,
      keepAdminToken: true,
      dataDir: config.dataDir,
      certFile: config.certPath,
      keyFile: config.keyPath,
      logFormat: config.logFormat,
      watchIntervalMs: config.watchIntervalMs,
      watchQuietIntervalMs: config.watchQuietIntervalMs,
      tracker: { closedRetentionMs: config.closedTtlSeconds * 1000, maxClosed: config.maxClosed },
      tcpHttp2: config.tcpHttp2,
      limits: config.limits,
      publicDashboard: config.publicDashboard,
      history: config.persist ? { intervalMs: config.persistIntervalMs } : undefined,
      cluster: {
        nodeId: config.cluster.nodeId,
        advertisePreferredAddress: advertisesPreferredAddress(config.cluster),
        balancer: config.cluster.balancer,
        balancerSources: balancerSources(config.cluster),
        redisUrl: config.cluster.redisUrl,
      },
    });
  } catch (error) {
    console.error(`error: cannot start: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
  const url = `https://localhost:${server.port}`;
  console.log(
    `🚀 QUIC connection-migration server on ${url} (HTTP/3 over UDP, ${
      config.tcpHttp2 ? "HTTP/2 and HTTP/1.1" : "HTTP/1.1"
    } over TCP)`,
  );
  console.log(`   Leaf certificate SPKI SHA-256: ${server.certificates.spkiSha256Base64}`);
  console.log(
    `   Chromium over HTTP/3: ${
      chromiumCommand(server.certificates.spkiSha256Base64, server.port)
    }`,
  );
  console.log(`   curl: curl -k ${url}/api/test`);
  console.log(
    `   Migration lab: https://localhost:${server.labPort}/ (HTTP/3 through a NAT-rebinding relay)`,
  );
  console.log(`   Admin token: ${server.adminTokenNote}`);
  console.log(`   UDP receive buffer: ${receiveBufferLine(server.receiveBuffer)}`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log("⏹  Shutting down: GOAWAY sent, draining requests…");
    await server.shutdown(5000);
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
