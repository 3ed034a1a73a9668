import { strict as assert } from "node:assert";
import { chromiumCommand } from "./chromium_command.ts";

Deno.test("chromiumCommand is the exact one-line command", () => {
  assert.equal(
    chromiumCommand("AbC+/x=", 9443),
    "chromium --origin-to-force-quic-on=localhost:9443" +
      " --ignore-certificate-errors-spki-list=AbC+/x=" +
      " --user-data-dir=$(mktemp -d) https://localhost:9443/",
  );
});

Deno.test("chromiumCommand puts a given host in the origin, IPv6 in brackets", () => {
  assert.equal(
    chromiumCommand("K=", 443, "198.18.0.10"),
    "chromium --origin-to-force-quic-on=198.18.0.10:443 --ignore-certificate-errors-spki-list=K=" +
      " --user-data-dir=$(mktemp -d) https://198.18.0.10:443/",
  );
  assert.ok(chromiumCommand("K=", 8443, "::1").endsWith(" https://[::1]:8443/"));
});
