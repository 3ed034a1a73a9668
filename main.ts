/**
 * The QUIC connection-migration server's entry point: parse the command line, start the
 * server, print how to reach it, and shut down gracefully on SIGINT/SIGTERM.
 * @module
 */

import { chromiumCommand } from "./lib/certs.ts";
import { configOrExit, generateAdminToken } from "./lib/cli.ts";
import { startServer } from "./lib/server/start.ts";

if (import.meta.main) {
  const config = configOrExit(Deno.args, Deno.env.toObject());
  let server;
  try {
    server = await startServer({
      hostname: config.host,
      port: config.port,
      dataDir: config.dataDir,
      certFile: config.certPath,
      keyFile: config.keyPath,
      logFormat: config.logFormat,
      watchIntervalMs: config.watchIntervalMs,
      tracker: { closedRetentionMs: config.closedTtlSeconds * 1000, maxClosed: config.maxClosed },
    });
  } catch (error) {
    console.error(`error: cannot start: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
  // A generated admin token goes to a 0600 file, never to the log.
  let tokenNote = "from --admin-token";
  if (config.adminToken === undefined) {
    const tokenPath = `${config.dataDir}/admin-token`;
    const existing = await Deno.readTextFile(tokenPath).catch(() => "");
    if (existing.trim() === "") {
      await Deno.writeTextFile(tokenPath, generateAdminToken() + "\n", { mode: 0o600 });
    }
    await Deno.chmod(tokenPath, 0o600);
    tokenNote = `in ${tokenPath} (generated once, kept across restarts)`;
  }
  const url = `https://localhost:${server.port}`;
  console.log(
    `🚀 QUIC connection-migration server on ${url} (HTTP/3 over UDP, HTTP/2 and HTTP/1.1 over TCP)`,
  );
  console.log(`   Leaf certificate SPKI SHA-256: ${server.certificates.spkiSha256Base64}`);
  console.log(
    `   Chromium over HTTP/3: ${
      chromiumCommand(server.certificates.spkiSha256Base64, server.port)
    }`,
  );
  console.log(`   curl: curl -k ${url}/api/test`);
  console.log(`   Admin token: ${tokenNote}`);
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
