import { strict as assert } from "node:assert";
import { hostOf, parseConntrackLine } from "./conntrack.ts";

Deno.test("parseConntrackLine: a listed, answered UDP flow behind masquerade", () => {
  assert.deepEqual(
    parseConntrackLine(
      "udp      17 29 src=198.19.7.2 dst=198.18.7.1 sport=40985 dport=9443 " +
        "src=198.18.7.1 dst=198.18.7.101 sport=9443 dport=3588 mark=0 use=1",
    ),
    {
      client: "198.19.7.2:40985",
      server: "198.18.7.1:9443",
      public: "198.18.7.101:3588",
      replied: true,
    },
  );
});

Deno.test("parseConntrackLine: an event line, unanswered, with counters", () => {
  assert.deepEqual(
    parseConntrackLine(
      "    [NEW] udp      17 30 src=198.19.7.18 dst=198.18.7.1 sport=5 dport=9443 packets=1 " +
        "bytes=1252 [UNREPLIED] src=198.18.7.1 dst=198.18.7.102 sport=9443 dport=61000 " +
        "packets=0 bytes=0",
    ),
    {
      event: "NEW",
      client: "198.19.7.18:5",
      server: "198.18.7.1:9443",
      public: "198.18.7.102:61000",
      replied: false,
    },
  );
});

Deno.test("parseConntrackLine: summaries, other protocols and truncated lines are not flows", () => {
  for (
    const line of [
      "",
      "conntrack v1.4.7 (conntrack-tools): 1 flow entries have been shown.",
      "tcp      6 431999 ESTABLISHED src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1",
      "udp      17 29 src=198.19.7.2 dst=198.18.7.1 sport=40985 dport=9443",
    ]
  ) {
    assert.equal(parseConntrackLine(line), undefined, line);
  }
});

Deno.test("hostOf: the address without its port", () => {
  assert.equal(hostOf("198.18.7.101:3588"), "198.18.7.101");
});
