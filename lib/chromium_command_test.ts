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
