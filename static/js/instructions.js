/**
 * "Try it": step-by-step instructions with this server's own values filled in (ports, the
 * certificate's SPKI hash, the host the page was loaded from), each command with a copy button.
 * @module
 */

import { el } from "./format.js";

/**
 * A command block with a copy button.
 * @param {string} command
 */
function commandBlock(command) {
  const code = el("code", { text: command });
  const copy = el("button", { type: "button", class: "copy", text: "Copy" });
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(command);
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Select and copy";
    }
  });
  return el("div", { class: "command" }, [el("pre", {}, [code]), copy]);
}

/**
 * One numbered step: a title, text and commands.
 * @param {string} title
 * @param {Array<Node | string>} body
 */
function step(title, body) {
  return el("li", {}, [el("h3", { text: title }), ...body]);
}

/**
 * @param {string} text
 * @returns {HTMLElement}
 */
function p(text) {
  return el("p", { text });
}

/**
 * Fills `root` from `/api/info`.
 * @param {HTMLElement} root
 * @param {any} info
 */
export function renderInstructions(root, info) {
  const host = location.hostname;
  const port = info.port ?? location.port;
  const lab = info.lab_port;
  const spki = info.spki_sha256_base64 ?? "<SPKI from the start banner>";
  const base = `https://${host}:${port}`;
  const chromium = (p) =>
    `chromium --origin-to-force-quic-on=localhost:${p} \\\n  --ignore-certificate-errors-spki-list=${spki} \\\n  --user-data-dir=$(mktemp -d) https://localhost:${p}/`;
  const steps = [
    step("Open this dashboard in Chromium over HTTP/3", [
      p(
        "Chromium only uses HTTP/3 for a certificate it trusts; this flag trusts exactly this server's key, and forcing QUIC skips the first visit over TCP that would learn Alt-Svc.",
      ),
      commandBlock(chromium(port)),
      p('"This page\'s connection" above then says h3.'),
    ]),
    step("Ask with curl", [
      p("Any curl with HTTP/3 support (curl -V lists HTTP3); -k accepts the dev certificate."),
      commandBlock(`curl -k --http3-only ${base}/api/test`),
      commandBlock(`curl -k -i ${base}/api/test    # over TCP; note the alt-svc header`),
      commandBlock(`curl -kN ${base}/api/events          # live events; Ctrl-C to stop`),
    ]),
  ];
  if (lab) {
    steps.push(
      step("Move a connection in the migration lab", [
        p(
          `Port ${lab} relays UDP into this server like a NAT; a rebinding gives your connection a new source port or address, and QUIC must validate the new path. Open the lab in Chromium, press "Migrate my connection" and watch the request counter keep going.`,
        ),
        commandBlock(chromium(lab)),
        p("Or let the command-line checker drive HTTP/3 connections through the lab:"),
        commandBlock(`deno task migrate --url https://localhost:${lab} --migrations 5`),
        p(
          "Moving someone else's connection needs the admin token (in <data-dir>/admin-token on the server):",
        ),
        commandBlock(
          `curl -k -X POST ${base}/api/simulate-migration \\\n  -H "authorization: Bearer $(cat .data/admin-token)" \\\n  -d '{"connection_id":"<id>","kind":"mixed","count":5,"interval_ms":200}'`,
        ),
      ]),
    );
  }
  const bound = info.host === "::" || info.host === "0.0.0.0"
    ? `This server listens on every interface (--host ${info.host}), so devices on your network can reach it.`
    : `This server listens on ${info.host} only; restart it with --host :: (or your LAN address) so a phone can reach it.`;
  steps.push(
    step("Try a real phone: Wi-Fi → cellular", [
      p(bound),
      p(
        info.dev_certificate
          ? "The generated certificate only names localhost, 127.0.0.1 and ::1, and a phone cannot be started with Chromium's flags. Chrome uses HTTP/3 only with a certificate from a publicly trusted CA (not with a local CA installed on the phone), so give the server one for a domain name that resolves to this machine, e.g. from Let's Encrypt with a DNS challenge: --cert fullchain.pem --key privkey.pem."
          : "This server uses your own certificate (--cert/--key): for HTTP/3 on a phone it must come from a publicly trusted CA and name the host the phone opens.",
      ),
      p(
        `Switching to cellular leaves your LAN: the phone must still reach the server, so use a machine with a public address (or forward UDP and TCP port ${port} on your router). Open https://<your-name>:${port}/ on the phone, reload once (the first visit goes over TCP and learns Alt-Svc), and check that the card says h3.`,
      ),
      p(
        "Then turn Wi-Fi off: the card's address changes, the migration count goes up, the connection id stays the same and the failed counter stays at 0. A new connection id instead means the browser opened a new connection rather than migrating.",
      ),
    ]),
  );
  root.replaceChildren(el("ol", { class: "steps" }, steps));
}
