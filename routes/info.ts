/**
 * `GET /api/info`: facts about this server that a page needs to explain how to reach it (its
 * ports, the certificate's SPKI hash for Chromium's command line, the bound host), and whether
 * the caller's own connection came through the migration lab and so can be moved.
 * @module
 */

import { Hono } from "hono";
import type { MigrationLab } from "../lib/lab/lab.ts";
import type { AppEnv } from "../lib/connection_env.ts";

/** What the server knows about itself once it listens. */
export interface ServerFacts {
  /** UDP (HTTP/3) and TCP (HTTP/2, HTTP/1.1) port. */
  port: number;
  /** The migration lab's port, or undefined when the lab is off. */
  labPort: number | undefined;
  /** The address the listeners are bound to (`::` means every interface). */
  host: string;
  /** Base64 SHA-256 of the leaf certificate's SubjectPublicKeyInfo. */
  spkiSha256Base64: string;
  /** True when the certificate is the generated development one (signed by the local CA). */
  devCertificate: boolean;
}

/** The info route; `facts` is read per request because ports are known only after binding. */
export function info(
  facts: () => ServerFacts | undefined,
  lab?: () => MigrationLab | undefined,
): Hono<AppEnv> {
  return new Hono<AppEnv>().get("/api/info", (c) => {
    const f = facts();
    const conn = c.env.connection;
    const labs = lab?.();
    return c.json({
      port: f?.port ?? null,
      lab_port: f?.labPort ?? null,
      host: f?.host ?? null,
      spki_sha256_base64: f?.spkiSha256Base64 ?? null,
      dev_certificate: f?.devCertificate ?? null,
      this_connection: {
        connection_id: conn.id,
        protocol: conn.protocol,
        remote_addr: conn.remoteAddr,
        // Only such a connection can be moved with {"connection_id":"self"}.
        on_lab_path: labs?.sessionFor(conn) !== undefined,
      },
    });
  });
}
