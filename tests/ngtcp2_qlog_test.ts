/**
 * The qlog reader the cluster tests use to tell a client ended by a stateless reset (which
 * gtlsclient reports with exit code 0) from one that finished: records as ngtcp2 writes them.
 */

import { strict as assert } from "node:assert";
import { endedByStatelessReset } from "./support/ngtcp2_qlog.ts";

const RS = "\x1e";
const HEADER = `${RS}{"qlog_format":"JSON-SEQ","qlog_version":"0.3"}\n`;
const PARAMS = `${RS}{"time":4,"name":"transport:parameters_set","data":{"owner":"remote",` +
  `"stateless_reset_token":{"data":"916fd8472c30112fab38acc276923dce"}}}\n`;
const PACKET =
  `${RS}{"time":5,"name":"transport:packet_received","data":{"frames":[{"frame_type":` +
  `"ping"}],"header":{"packet_type":"1RTT","packet_number":3},"raw":{"length":1326}}}\n`;
const RESET =
  `${RS}{"time":45,"name":"transport:packet_received","data":{"header":{"packet_type":` +
  `"stateless_reset","packet_number":0},"stateless_reset_token":"916fd8472c30112fab38acc276923dce"}}\n`;

async function withQlog(text: string | undefined, fn: (path: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "qlog-test-" });
  try {
    const path = `${dir}/client.qlog`;
    if (text !== undefined) await Deno.writeTextFile(path, text);
    await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("ngtcp2 qlog: a received stateless reset is found", async () => {
  await withQlog(HEADER + PARAMS + PACKET + RESET, async (path) => {
    assert.equal(await endedByStatelessReset(path), true);
  });
});

Deno.test("ngtcp2 qlog: a reset token in the transport parameters is no reset", async () => {
  await withQlog(HEADER + PARAMS + PACKET, async (path) => {
    assert.equal(await endedByStatelessReset(path), false);
  });
});

Deno.test("ngtcp2 qlog: a last record cut short is skipped, and a missing file is no reset", async () => {
  await withQlog(HEADER + PACKET + RESET.slice(0, RESET.indexOf("packet_number")), async (path) => {
    assert.equal(await endedByStatelessReset(path), false);
  });
  await withQlog(undefined, async (path) => {
    assert.equal(await endedByStatelessReset(path), false);
  });
});
