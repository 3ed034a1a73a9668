/**
 * The nginx configuration of a cluster's load balancer, as text (no I/O): UDP for HTTP/3 and
 * TCP for HTTPS (where clients learn `Alt-Svc`), both with `stream` proxying, hashed on the
 * client's IP so a NAT rebinding that keeps the IP stays on its node.
 *
 * The balancer forwards from a fixed source IP (`proxy_bind`): a node recognises a client's
 * hand-off to its preferred address as the move away from that IP. nginx's UDP proxying needs
 * Debian's `libnginx-mod-stream`.
 *
 * ```ts
 * const text = nginxStreamConfig({ listen: "198.18.0.10:443", source: "198.18.0.10",
 *   nodes: ["198.18.0.11:9443", "198.18.0.12:9443"], runDir: "/run/qms" });
 * ```
 * @module
 */

/** What the balancer is made of. */
export interface BalancerPlan {
  /** The public `ip:port` clients connect to, UDP and TCP alike. */
  listen: string;
  /** The IP the balancer forwards from (`proxy_bind`): an address of this machine. */
  source: string;
  /** Each node's `ip:port` (its bind and preferred address). */
  nodes: readonly string[];
  /** Where nginx keeps its pid file and logs. */
  runDir: string;
  /** The stream module to load, when nginx does not load it itself. */
  streamModule?: string;
  /** How long an idle UDP flow is remembered (seconds); longer than the nodes' idle timeout. */
  udpTimeoutSeconds?: number;
}

/** The whole nginx.conf for `plan`, run in the foreground (`daemon off`). */
export function nginxStreamConfig(plan: BalancerPlan): string {
  if (plan.nodes.length === 0) throw new Error("a balancer needs at least one node");
  const servers = plan.nodes.map((node) => `    server ${node};`).join("\n");
  const timeout = plan.udpTimeoutSeconds ?? 60;
  return [
    ...(plan.streamModule ? [`load_module ${plan.streamModule};`] : []),
    `pid ${plan.runDir}/nginx.pid;`,
    `error_log ${plan.runDir}/nginx-error.log notice;`,
    "daemon off;",
    "worker_processes 1;",
    "events { worker_connections 4096; }",
    "stream {",
    `  access_log off;`,
    "  upstream quic_nodes {",
    "    hash $remote_addr consistent;",
    servers,
    "  }",
    "  upstream https_nodes {",
    "    hash $remote_addr consistent;",
    servers,
    "  }",
    "  server {",
    // A burst of handshakes must not overflow the balancer's socket either (nginx asks with
    // SO_RCVBUF, so net.core.rmem_max caps it).
    `    listen ${plan.listen} udp reuseport rcvbuf=8m;`,
    "    proxy_pass quic_nodes;",
    `    proxy_bind ${plan.source};`,
    `    proxy_timeout ${timeout}s;`,
    "  }",
    "  server {",
    `    listen ${plan.listen};`,
    "    proxy_pass https_nodes;",
    `    proxy_bind ${plan.source};`,
    "  }",
    "}",
    "",
  ].join("\n");
}

/** Where Debian's nginx keeps the stream module (`libnginx-mod-stream`). */
export const DEBIAN_STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so";
