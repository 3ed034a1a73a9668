import { strict as assert } from "node:assert";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { type DevCertificates, ensureDevCertificates, loadCertificates } from "./certs.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

/** Runs `body` with a fresh temp directory, removed afterwards. */
async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "certs_test_" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

function leafOf(certs: DevCertificates): x509.X509Certificate {
  return new x509.X509Certificate(pemBlocks(certs.certPem)[0]);
}

/** SPKI hash derived from the private key alone (not from the certificate), via WebCrypto. */
async function spkiHashFromPrivateKey(keyPem: string): Promise<string> {
  const der = x509.PemConverter.decodeFirst(keyPem);
  const algorithm = { name: "ECDSA", namedCurve: "P-256" };
  const privateKey = await crypto.subtle.importKey("pkcs8", der, algorithm, true, ["sign"]);
  const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", privateKey);
  const publicKey = await crypto.subtle.importKey("jwk", { kty, crv, x, y }, algorithm, true, [
    "verify",
  ]);
  const spki = await crypto.subtle.exportKey("spki", publicKey);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", spki));
  return btoa(String.fromCharCode(...digest));
}

async function hasOpenssl(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("openssl", { args: ["version"], stdout: "null" })
      .output();
    return success;
  } catch {
    return false;
  }
}

Deno.test("first call creates CA, leaf and keys in <dataDir>/certs with 0600 keys", async () => {
  await withTempDir(async (dir) => {
    const now = new Date();
    const certs = await ensureDevCertificates(dir, now);
    assert.equal(certs.created, true);
    assert.equal(certs.certPath, `${dir}/certs/cert.pem`);
    assert.equal(certs.keyPath, `${dir}/certs/key.pem`);
    assert.equal(certs.caPath, `${dir}/certs/ca.pem`);
    assert.equal(await Deno.readTextFile(certs.certPath), certs.certPem);
    assert.equal(await Deno.readTextFile(certs.keyPath), certs.keyPem);
    assert.equal(await Deno.readTextFile(certs.caPath), certs.caPem);
    assert.match(certs.keyPem, /^-----BEGIN PRIVATE KEY-----/);
    for (const name of ["key.pem", "ca-key.pem"]) {
      assert.equal((await Deno.stat(`${dir}/certs/${name}`)).mode! & 0o777, 0o600, name);
    }

    const chain = pemBlocks(certs.certPem);
    assert.equal(chain.length, 2, "leaf then CA");
    const leaf = new x509.X509Certificate(chain[0]);
    const ca = new x509.X509Certificate(certs.caPem);
    assert.equal(new x509.X509Certificate(chain[1]).toString("pem"), ca.toString("pem"));

    assert.equal(ca.getExtension(x509.BasicConstraintsExtension)?.ca, true);
    const caUsages = ca.getExtension(x509.KeyUsagesExtension)!.usages;
    assert.ok(caUsages & x509.KeyUsageFlags.keyCertSign);
    const caYears = (ca.notAfter.getTime() - now.getTime()) / (365.25 * DAY_MS);
    assert.ok(caYears > 9.9 && caYears < 10.1, `CA lifetime ${caYears} years`);
    assert.equal((ca.publicKey.algorithm as EcKeyAlgorithm).namedCurve, "P-256");

    assert.equal(leaf.issuer, ca.subject);
    assert.ok(await leaf.verify({ publicKey: ca.publicKey, signatureOnly: true }, crypto));
    assert.equal(leaf.getExtension(x509.BasicConstraintsExtension)?.ca, false);
    assert.equal(
      leaf.getExtension(x509.KeyUsagesExtension)!.usages,
      x509.KeyUsageFlags.digitalSignature,
    );
    assert.deepEqual([...leaf.getExtension(x509.ExtendedKeyUsageExtension)!.usages], [
      x509.ExtendedKeyUsage.serverAuth,
    ]);
    const names = leaf.getExtension(x509.SubjectAlternativeNameExtension)!.names.toJSON();
    assert.deepEqual(names.map((name) => name.type), ["dns", "ip", "ip"]);
    assert.equal(names[0].value, "localhost");
    assert.equal(names[1].value, "127.0.0.1");
    assert.ok(["::1", "0:0:0:0:0:0:0:1"].includes(names[2].value), names[2].value);
    const leafDays = (leaf.notAfter.getTime() - now.getTime()) / DAY_MS;
    assert.ok(leafDays > 89.9 && leafDays <= 90, `leaf lifetime ${leafDays} days`);
    assert.equal(certs.notAfter.getTime(), leaf.notAfter.getTime());
    assert.ok(leaf.notBefore.getTime() <= now.getTime());
    assert.equal((leaf.publicKey.algorithm as EcKeyAlgorithm).namedCurve, "P-256");
  });
});

Deno.test("Deno.serve (TLS over TCP) accepts the pair and the CA validates it for localhost", async () => {
  await withTempDir(async (dir) => {
    const { certPem, keyPem, caPem } = await ensureDevCertificates(dir);
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, cert: certPem, key: keyPem, onListen() {} },
      () => new Response("hello over tls"),
    );
    const client = Deno.createHttpClient({ caCerts: [caPem] });
    try {
      const response = await fetch(`https://localhost:${server.addr.port}/`, { client });
      assert.equal(await response.text(), "hello over tls");
    } finally {
      client.close();
      await server.shutdown();
    }
  });
});

Deno.test("Deno.QuicEndpoint accepts the pair and connectQuic validates it with the CA", async () => {
  await withTempDir(async (dir) => {
    const { certPem, keyPem, caPem } = await ensureDevCertificates(dir);
    const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
    try {
      const listener = endpoint.listen({ cert: certPem, key: keyPem, alpnProtocols: ["h3"] });
      const serverSide = listener.accept();
      const clientConn = await Deno.connectQuic({
        hostname: "127.0.0.1",
        serverName: "localhost",
        port: endpoint.addr.port,
        caCerts: [caPem],
        alpnProtocols: ["h3"],
      });
      const serverConn = await serverSide;
      assert.equal(clientConn.protocol, "h3");
      assert.equal(serverConn.protocol, "h3");
      clientConn.close();
      serverConn.close();
      listener.stop();
    } finally {
      endpoint.close();
    }
  });
});

Deno.test("connectQuic rejects the leaf without the CA (the test above is not vacuous)", async () => {
  await withTempDir(async (dir) => {
    const { certPem, keyPem } = await ensureDevCertificates(dir);
    const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
    try {
      const listener = endpoint.listen({ cert: certPem, key: keyPem, alpnProtocols: ["h3"] });
      const serverSide = listener.accept().catch(() => undefined);
      await assert.rejects(async () =>
        await Deno.connectQuic({
          hostname: "127.0.0.1",
          serverName: "localhost",
          port: endpoint.addr.port,
          alpnProtocols: ["h3"],
        })
      );
      listener.stop();
      (await serverSide)?.close();
    } finally {
      endpoint.close();
    }
  });
});

Deno.test("second call reuses the chain: created false, same SPKI, same files", async () => {
  await withTempDir(async (dir) => {
    const first = await ensureDevCertificates(dir);
    const second = await ensureDevCertificates(dir, new Date(Date.now() + 30 * DAY_MS));
    assert.equal(second.created, false);
    assert.equal(second.spkiSha256Base64, first.spkiSha256Base64);
    assert.equal(second.certPem, first.certPem);
    assert.equal(second.keyPem, first.keyPem);
    assert.equal(second.caPem, first.caPem);
  });
});

Deno.test("reuse tightens a key file's mode back to 0600", async () => {
  await withTempDir(async (dir) => {
    const first = await ensureDevCertificates(dir);
    await Deno.chmod(first.keyPath, 0o644);
    const second = await ensureDevCertificates(dir);
    assert.equal(second.created, false);
    assert.equal((await Deno.stat(first.keyPath)).mode! & 0o777, 0o600);
  });
});

Deno.test("renewal: past notAfter or within a day of it gives a new leaf under the same CA", async () => {
  await withTempDir(async (dir) => {
    const first = await ensureDevCertificates(dir);
    const expired = await ensureDevCertificates(dir, new Date(first.notAfter.getTime() + 1000));
    assert.equal(expired.created, true);
    assert.notEqual(expired.spkiSha256Base64, first.spkiSha256Base64);
    assert.equal(expired.caPem, first.caPem, "CA kept");
    assert.ok(expired.notAfter > first.notAfter);
    assert.equal(await Deno.readTextFile(expired.certPath), expired.certPem);

    const closeToExpiry = new Date(expired.notAfter.getTime() - 12 * 60 * 60 * 1000);
    const renewed = await ensureDevCertificates(dir, closeToExpiry);
    assert.equal(renewed.created, true);
    assert.notEqual(renewed.spkiSha256Base64, expired.spkiSha256Base64);
    assert.equal(renewed.caPem, first.caPem);
  });
});

Deno.test("an expired CA is replaced and the leaf reissued under the new one", async () => {
  await withTempDir(async (dir) => {
    const first = await ensureDevCertificates(dir);
    const later = new Date(Date.now() + 11 * 365 * DAY_MS);
    const renewed = await ensureDevCertificates(dir, later);
    assert.equal(renewed.created, true);
    assert.notEqual(renewed.caPem, first.caPem);
    const ca = new x509.X509Certificate(renewed.caPem);
    assert.ok(await leafOf(renewed).verify({ publicKey: ca.publicKey, signatureOnly: true }));
  });
});

Deno.test("missing CA, foreign key, or garbage files are regenerated", async () => {
  await withTempDir(async (dir) => {
    const first = await ensureDevCertificates(dir);
    await Deno.remove(first.caPath);
    const newCa = await ensureDevCertificates(dir);
    assert.equal(newCa.created, true, "leaf signed by the vanished CA is reissued");
    assert.notEqual(newCa.caPem, first.caPem);

    const other = await ensureDevCertificates(`${dir}/other`);
    await Deno.writeTextFile(newCa.keyPath, other.keyPem);
    const mismatched = await ensureDevCertificates(dir);
    assert.equal(mismatched.created, true, "key not matching the leaf");
    assert.equal(mismatched.caPem, newCa.caPem);

    await Deno.writeTextFile(mismatched.certPath, "not a certificate");
    const fromGarbage = await ensureDevCertificates(dir);
    assert.equal(fromGarbage.created, true);
    assert.equal((await Deno.stat(fromGarbage.keyPath)).mode! & 0o777, 0o600);
  });
});

Deno.test("a leaf whose SANs no longer match is reissued", async () => {
  await withTempDir(async (dir) => {
    const first = await ensureDevCertificates(dir);
    const ecdsa = { name: "ECDSA", namedCurve: "P-256" };
    const caKeyDer = x509.PemConverter.decodeFirst(
      await Deno.readTextFile(`${dir}/certs/ca-key.pem`),
    );
    const caKey = await crypto.subtle.importKey("pkcs8", caKeyDer, ecdsa, false, ["sign"]);
    const leafKeys = await crypto.subtle.generateKey(ecdsa, true, ["sign", "verify"]);
    const dnsOnlyLeaf = await x509.X509CertificateGenerator.create({
      subject: "CN=localhost",
      issuer: new x509.X509Certificate(first.caPem).subjectName,
      publicKey: leafKeys.publicKey,
      signingKey: caKey,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 30 * DAY_MS),
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "localhost" }])],
    }, crypto);
    const keyDer = await crypto.subtle.exportKey("pkcs8", leafKeys.privateKey);
    await Deno.writeTextFile(first.keyPath, x509.PemConverter.encode(keyDer, "PRIVATE KEY"));
    await Deno.writeTextFile(first.certPath, `${dnsOnlyLeaf.toString("pem")}\n${first.caPem}`);

    const renewed = await ensureDevCertificates(dir);
    assert.equal(renewed.created, true);
    assert.equal(renewed.caPem, first.caPem);
    const names = leafOf(renewed).getExtension(x509.SubjectAlternativeNameExtension)!.names;
    assert.equal(names.items.length, 3);
  });
});

Deno.test("SPKI hash matches one computed independently (WebCrypto, and openssl if present)", async () => {
  await withTempDir(async (dir) => {
    const certs = await ensureDevCertificates(dir);
    assert.match(certs.spkiSha256Base64, /^[A-Za-z0-9+/]{43}=$/);
    assert.equal(await spkiHashFromPrivateKey(certs.keyPem), certs.spkiSha256Base64);

    if (!(await hasOpenssl())) return;
    const pipeline = `openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform der` +
      ` | openssl dgst -sha256 -binary | base64`;
    const output = await new Deno.Command("sh", {
      args: ["-c", pipeline, "sh", certs.certPath],
      stdout: "piped",
    }).output();
    assert.ok(output.success);
    assert.equal(new TextDecoder().decode(output.stdout).trim(), certs.spkiSha256Base64);
  });
});

Deno.test("loadCertificates reads user PEMs and hashes the first certificate's SPKI", async () => {
  await withTempDir(async (dir) => {
    const dev = await ensureDevCertificates(dir);
    const loaded = await loadCertificates(dev.certPath, dev.keyPath);
    assert.equal(loaded.certPem, dev.certPem);
    assert.equal(loaded.keyPem, dev.keyPem);
    assert.equal(loaded.spkiSha256Base64, dev.spkiSha256Base64);
    assert.equal(loaded.notAfter.getTime(), dev.notAfter.getTime());
    assert.equal(loaded.certPath, dev.certPath);
    assert.equal(loaded.keyPath, dev.keyPath);

    const caOnly = await loadCertificates(dev.caPath, dev.keyPath);
    assert.notEqual(caOnly.spkiSha256Base64, dev.spkiSha256Base64, "hashes the first block");

    const empty = `${dir}/empty.pem`;
    await Deno.writeTextFile(empty, "nothing here\n");
    await assert.rejects(loadCertificates(empty, dev.keyPath), /empty\.pem: no PEM CERTIFICATE/);
    await assert.rejects(loadCertificates(dev.certPath, empty), /empty\.pem: no PEM PRIVATE KEY/);
    await assert.rejects(loadCertificates(`${dir}/missing.pem`, dev.keyPath), Deno.errors.NotFound);
  });
});

Deno.test("extra IP addresses join the leaf's SANs; a leaf lacking one is replaced, else reused", async () => {
  await withTempDir(async (dir) => {
    const ipsOf = (certs: DevCertificates) =>
      leafOf(certs).getExtension(x509.SubjectAlternativeNameExtension)!.names.items
        .filter((name) => name.type === "ip").map((name) => name.value);
    const first = await ensureDevCertificates(dir, new Date(), ["198.18.0.10", "127.0.0.11"]);
    assert.deepEqual(ipsOf(first).sort(), ["127.0.0.1", "127.0.0.11", "198.18.0.10", "::1"]);
    const again = await ensureDevCertificates(dir, new Date(), ["127.0.0.11"]);
    assert.equal(again.created, false, "a leaf covering every asked name is reused");
    assert.equal(again.spkiSha256Base64, first.spkiSha256Base64);
    const widened = await ensureDevCertificates(dir, new Date(), ["127.0.0.12"]);
    assert.equal(widened.created, true, "a leaf lacking an asked IP is replaced");
    assert.ok(ipsOf(widened).includes("127.0.0.12"));
    assert.ok(!ipsOf(widened).includes("198.18.0.10"), "only the asked names, not the old ones");
  });
});
