/**
 * TLS certificates for the server: a self-made development chain (a local CA plus a short-lived
 * leaf for `localhost`, `127.0.0.1` and `::1`), or PEM files the user brings.
 *
 * Everything is built with `@peculiar/x509` on WebCrypto; nothing shells out.
 *
 * ```ts
 * const certs = await ensureDevCertificates(".data");
 * console.log(certs.spkiSha256Base64); // for Chromium's --ignore-certificate-errors-spki-list
 * ```
 * @module
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { sameBytes } from "./bytes.ts";

/** The certificate material a TLS (TCP) or QUIC (UDP) listener needs, plus what to log about it. */
export interface ServerCertificates {
  /** PEM certificate chain to serve: the leaf first, then any issuers. */
  certPem: string;
  /** The leaf's private key, PEM (PKCS#8 for generated keys). */
  keyPem: string;
  /**
   * Base64 of SHA-256 over the leaf's DER SubjectPublicKeyInfo: the value Chromium's
   * `--ignore-certificate-errors-spki-list` expects.
   */
  spkiSha256Base64: string;
  /** When the leaf stops being valid. */
  notAfter: Date;
  /** Where the chain was read from or written to. */
  certPath: string;
  /** Where the private key was read from or written to. */
  keyPath: string;
}

/** A generated development chain: {@link ServerCertificates} plus the local CA. */
export interface DevCertificates extends ServerCertificates {
  /** The local CA certificate, PEM: give it to clients as a trust anchor (`caCerts`). */
  caPem: string;
  /** Where the CA certificate is stored. */
  caPath: string;
  /** True when this call issued a new leaf (first start, expiry, or unusable files). */
  created: boolean;
}

/** DNS names the development leaf must cover. */
export const DEV_DNS_NAMES: readonly string[] = ["localhost"];
/** IP addresses the development leaf must cover. */
export const DEV_IP_ADDRESSES: readonly string[] = ["127.0.0.1", "::1"];

const DAY_MS = 24 * 60 * 60 * 1000;
/** Lifetime of the local CA. */
const CA_LIFETIME_MS = 3652 * DAY_MS;
/**
 * Lifetime of the leaf. Chromium caps publicly trusted leaves at 398 days; locally trusted ones
 * are exempt, but staying well under keeps the chain valid whichever way a browser trusts it.
 */
const LEAF_LIFETIME_MS = 90 * DAY_MS;
/** A leaf closer than this to its notAfter is renewed rather than reused. */
const RENEW_BEFORE_MS = 1 * DAY_MS;
/** notBefore is backdated by this much so small clock differences don't reject a fresh chain. */
const BACKDATE_MS = 60 * 60 * 1000;

const ECDSA_P256: EcKeyGenParams = { name: "ECDSA", namedCurve: "P-256" };
const ECDSA_SHA256: EcdsaParams = { name: "ECDSA", hash: "SHA-256" };

/** File names inside `<dataDir>/certs/`. */
const FILE_NAMES = {
  ca: "ca.pem",
  caKey: "ca-key.pem",
  cert: "cert.pem",
  key: "key.pem",
} as const;

interface CertificateAuthority {
  certificate: x509.X509Certificate;
  privateKey: CryptoKey;
  pem: string;
}

/**
 * Returns a usable development chain from `<dataDir>/certs/`, creating or renewing it as needed.
 *
 * - The CA (ECDSA P-256, CA:true, keyCertSign, ~10 years) is reused unless missing, unreadable,
 *   or not valid for the whole life of a new leaf; then a new one is made (and clients must trust
 *   the new `ca.pem`).
 * - The leaf (ECDSA P-256, serverAuth, digitalSignature, 90 days) is reused while it has more than
 *   a day left, still covers `localhost`/`127.0.0.1`/`::1`, was signed by the current CA and
 *   matches `key.pem`; otherwise a new key pair and leaf are issued.
 * - Private keys are written mode 0600.
 *
 * @param dataDir The server's data directory; files go to `<dataDir>/certs/`.
 * @param now The current time (a parameter so tests can move the clock).
 * @param extraIpAddresses More IP addresses the leaf must cover (a cluster's balancer and
 *   nodes); a stored leaf that lacks one is replaced.
 */
export async function ensureDevCertificates(
  dataDir: string,
  now: Date = new Date(),
  extraIpAddresses: readonly string[] = [],
): Promise<DevCertificates> {
  const dir = joinPath(dataDir, "certs");
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const caPath = joinPath(dir, FILE_NAMES.ca);
  const caKeyPath = joinPath(dir, FILE_NAMES.caKey);
  const certPath = joinPath(dir, FILE_NAMES.cert);
  const keyPath = joinPath(dir, FILE_NAMES.key);

  const leafNotAfter = new Date(now.getTime() + LEAF_LIFETIME_MS);
  let authority = await readAuthority(caPath, caKeyPath);
  if (!authority || !isValidBetween(authority.certificate, now, leafNotAfter)) {
    authority = await createAuthority(now);
    await writePrivateFile(caKeyPath, await exportPrivateKeyPem(authority.privateKey));
    await Deno.writeTextFile(caPath, authority.pem);
  }

  const names = devGeneralNames(extraIpAddresses);
  const existing = await readReusableLeaf(certPath, keyPath, authority, now, names);
  if (existing) {
    return {
      ...existing,
      caPem: authority.pem,
      certPath,
      keyPath,
      caPath,
      created: false,
    };
  }

  const leafKeys = await generateKeyPair();
  const leaf = await createLeaf(authority, leafKeys.publicKey, now, leafNotAfter, names);
  const certPem = `${leaf.toString("pem")}\n${authority.pem}`;
  const keyPem = await exportPrivateKeyPem(leafKeys.privateKey);
  await writePrivateFile(keyPath, keyPem);
  await Deno.writeTextFile(certPath, certPem);
  return {
    certPem,
    keyPem,
    caPem: authority.pem,
    spkiSha256Base64: await spkiSha256Base64(leaf),
    notAfter: leaf.notAfter,
    certPath,
    keyPath,
    caPath,
    created: true,
  };
}

/**
 * Reads a user-provided PEM chain and key (`--cert` / `--key`) and computes the SPKI hash of the
 * first certificate in the chain (the leaf).
 *
 * @throws {Error} with a one-line message naming the file when it holds no certificate or no key.
 */
export async function loadCertificates(
  certPath: string,
  keyPath: string,
): Promise<ServerCertificates> {
  const certPem = await Deno.readTextFile(certPath);
  const keyPem = await Deno.readTextFile(keyPath);
  const leafPem = firstPemBlock(certPem, "CERTIFICATE");
  if (!leafPem) throw new Error(`${certPath}: no PEM CERTIFICATE block found`);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyPem)) {
    throw new Error(`${keyPath}: no PEM PRIVATE KEY block found`);
  }
  let leaf: x509.X509Certificate;
  try {
    leaf = new x509.X509Certificate(leafPem);
  } catch (error) {
    throw new Error(`${certPath}: first certificate does not parse: ${errorMessage(error)}`);
  }
  return {
    certPem,
    keyPem,
    spkiSha256Base64: await spkiSha256Base64(leaf),
    notAfter: leaf.notAfter,
    certPath,
    keyPath,
  };
}

/** Base64 of SHA-256 over a certificate's DER SubjectPublicKeyInfo. */
export async function spkiSha256Base64(certificate: x509.X509Certificate): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", certificate.publicKey.rawData);
  return bytesToBase64(new Uint8Array(digest));
}

// ---------------------------------------------------------------------------------------------

async function readAuthority(
  caPath: string,
  caKeyPath: string,
): Promise<CertificateAuthority | undefined> {
  const caPem = await readTextIfExists(caPath);
  const caKeyPem = await readTextIfExists(caKeyPath);
  if (caPem === undefined || caKeyPem === undefined) return undefined;
  try {
    const certificate = new x509.X509Certificate(caPem);
    const basicConstraints = certificate.getExtension(x509.BasicConstraintsExtension);
    if (!basicConstraints?.ca) return undefined;
    const privateKey = await importPrivateKeyPem(caKeyPem);
    if (!(await publicKeyMatches(privateKey, certificate))) return undefined;
    return { certificate, privateKey, pem: certificate.toString("pem") };
  } catch {
    return undefined; // unreadable files are replaced, not fatal
  }
}

async function readReusableLeaf(
  certPath: string,
  keyPath: string,
  authority: CertificateAuthority,
  now: Date,
  names: x509.JsonGeneralNames,
): Promise<Omit<ServerCertificates, "certPath" | "keyPath"> | undefined> {
  const storedChainPem = await readTextIfExists(certPath);
  const keyPem = await readTextIfExists(keyPath);
  if (storedChainPem === undefined || keyPem === undefined) return undefined;
  try {
    const leafPem = firstPemBlock(storedChainPem, "CERTIFICATE");
    if (!leafPem) return undefined;
    const leaf = new x509.X509Certificate(leafPem);
    const renewAt = new Date(now.getTime() + RENEW_BEFORE_MS);
    if (!isValidBetween(leaf, now, renewAt)) return undefined;
    if (!coversNames(leaf, names)) return undefined;
    const signedByCa = await leaf.verify(
      { publicKey: authority.certificate.publicKey, signatureOnly: true },
      crypto,
    );
    if (!signedByCa) return undefined;
    if (!(await publicKeyMatches(await importPrivateKeyPem(keyPem), leaf))) return undefined;
    // Rebuild the chain so it always ends with the current CA.
    const certPem = `${leaf.toString("pem")}\n${authority.pem}`;
    if (certPem !== storedChainPem) await Deno.writeTextFile(certPath, certPem);
    await chmodPrivate(keyPath);
    return {
      certPem,
      keyPem,
      spkiSha256Base64: await spkiSha256Base64(leaf),
      notAfter: leaf.notAfter,
    };
  } catch {
    return undefined;
  }
}

async function createAuthority(now: Date): Promise<CertificateAuthority> {
  const keys = await generateKeyPair();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    name: "CN=QUIC migration server local development CA",
    keys,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + CA_LIFETIME_MS),
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign |
          x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
    ],
  }, crypto);
  return { certificate, privateKey: keys.privateKey, pem: certificate.toString("pem") };
}

async function createLeaf(
  authority: CertificateAuthority,
  publicKey: CryptoKey,
  now: Date,
  notAfter: Date,
  names: x509.JsonGeneralNames,
): Promise<x509.X509Certificate> {
  return await x509.X509CertificateGenerator.create({
    subject: "CN=localhost",
    issuer: authority.certificate.subjectName,
    publicKey,
    signingKey: authority.privateKey,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension(names, false),
      await x509.SubjectKeyIdentifierExtension.create(publicKey, false, crypto),
      await x509.AuthorityKeyIdentifierExtension.create(authority.certificate, false, crypto),
    ],
  }, crypto);
}

/** True when the certificate's SANs include every one of `names` (compared as DER). */
function coversNames(leaf: x509.X509Certificate, names: x509.JsonGeneralNames): boolean {
  const san = leaf.getExtension(x509.SubjectAlternativeNameExtension);
  if (!san) return false;
  const present = new Set(
    san.names.items.map((name) => bytesToBase64(new Uint8Array(name.rawData))),
  );
  return names.every((name) =>
    present.has(bytesToBase64(new Uint8Array(new x509.GeneralName(name.type, name.value).rawData)))
  );
}

/** The development leaf's subject alternative names, plus `extraIps` not already among them. */
function devGeneralNames(extraIps: readonly string[] = []): x509.JsonGeneralNames {
  const ips = [...new Set([...DEV_IP_ADDRESSES, ...extraIps])];
  return [
    ...DEV_DNS_NAMES.map((value) => ({ type: "dns" as const, value })),
    ...ips.map((value) => ({ type: "ip" as const, value })),
  ];
}

function isValidBetween(certificate: x509.X509Certificate, from: Date, until: Date): boolean {
  return certificate.notBefore.getTime() <= from.getTime() &&
    certificate.notAfter.getTime() > until.getTime();
}

async function generateKeyPair(): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey(ECDSA_P256, true, ["sign", "verify"]);
}

async function exportPrivateKeyPem(privateKey: CryptoKey): Promise<string> {
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", privateKey);
  return x509.PemConverter.encode(pkcs8, "PRIVATE KEY");
}

async function importPrivateKeyPem(pem: string): Promise<CryptoKey> {
  const block = firstPemBlock(pem, "PRIVATE KEY");
  if (!block) throw new Error("no PKCS#8 PRIVATE KEY block");
  const der = x509.PemConverter.decodeFirst(block);
  return await crypto.subtle.importKey("pkcs8", der, ECDSA_P256, true, ["sign"]);
}

/** True when an (extractable, EC) private key belongs to the certificate's public key. */
async function publicKeyMatches(
  privateKey: CryptoKey,
  certificate: x509.X509Certificate,
): Promise<boolean> {
  const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", privateKey);
  const publicKey = await crypto.subtle.importKey("jwk", { kty, crv, x, y }, ECDSA_P256, true, [
    "verify",
  ]);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", publicKey));
  return sameBytes(spki, new Uint8Array(certificate.publicKey.rawData));
}

/** The first `-----BEGIN <label>-----` … `-----END <label>-----` block, or undefined. */
function firstPemBlock(text: string, label: string): string | undefined {
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  const start = text.indexOf(begin);
  if (start < 0) return undefined;
  const stop = text.indexOf(end, start);
  if (stop < 0) return undefined;
  return text.slice(start, stop + end.length);
}

/** Writes a secret atomically with mode 0600 (temp file, chmod, rename). */
async function writePrivateFile(path: string, contents: string): Promise<void> {
  const temporaryPath = `${path}.tmp`;
  await Deno.remove(temporaryPath).catch(() => {});
  await Deno.writeTextFile(temporaryPath, contents, { mode: 0o600 });
  await chmodPrivate(temporaryPath);
  await Deno.rename(temporaryPath, path);
}

async function chmodPrivate(path: string): Promise<void> {
  if (Deno.build.os !== "windows") await Deno.chmod(path, 0o600);
}

async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

function joinPath(directory: string, name: string): string {
  return directory.endsWith("/") ? `${directory}${name}` : `${directory}/${name}`;
}

function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
