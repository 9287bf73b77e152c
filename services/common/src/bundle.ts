import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";
import { createReadStream } from "node:fs";
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import * as tar from "tar";

/**
 * Revision bundles: a project folder (its node_modules included) as a gzipped tar, named by the
 * sha256 of the archive, with a signature file beside it: `sha256-<hex>.tgz` and
 * `sha256-<hex>.tgz.sig` (JSON `{digest, signature, key_id}`). The builder signs; whoever starts
 * a runtime from a bundle verifies the archive's digest and the signature with the platform's
 * public key before extracting anything.
 */

/** What is signed: the archive's digest, `sha256:<hex>`. */
export type BundleDigest = `sha256:${string}`;

export interface BundleSignature {
  digest: BundleDigest;
  /** Ed25519 over the UTF-8 digest string, base64. */
  signature: string;
  /** sha256 of the public key's DER (hex, 16 chars): which key signed. */
  key_id: string;
}

/** A bundle that must not be loaded: unsigned, altered, signed by another key, or unreadable. */
export class BundleRefused extends Error {
  override readonly name = "BundleRefused";
}

export const signatureFileOf = (bundlePath: string): string => `${bundlePath}.sig`;
export const bundleFileName = (digest: BundleDigest): string => `${digest.replace(":", "-")}.tgz`;

export async function digestOf(file: string): Promise<BundleDigest> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(file), hash);
  return `sha256:${hash.digest("hex")}`;
}

export const keyIdOf = (key: KeyObject): string =>
  createHash("sha256")
    .update(
      key.type === "private"
        ? createPublicKey(key).export({ type: "spki", format: "der" })
        : key.export({ type: "spki", format: "der" }),
    )
    .digest("hex")
    .slice(0, 16);

/**
 * The platform's signing key, kept as PKCS#8 PEM in `file` (mode 0600); made at the first call.
 * Returns it with its public half (SPKI PEM), which runtimes are given to verify bundles.
 */
export async function loadOrCreateSigningKey(file: string): Promise<{ privateKey: KeyObject; publicKeyPem: string }> {
  let pem: string;
  try {
    pem = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    const { privateKey } = generateKeyPairSync("ed25519");
    pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, pem, { mode: 0o600, flag: "wx" }).catch(async (e: NodeJS.ErrnoException) => {
      // Another process made it first: use theirs.
      if (e.code !== "EEXIST") throw e;
      pem = await readFile(file, "utf8");
    });
    await chmod(file, 0o600);
  }
  const privateKey = createPrivateKey(pem);
  return { privateKey, publicKeyPem: createPublicKey(privateKey).export({ type: "spki", format: "pem" }).toString() };
}

/**
 * Archives `projectDir` into `bundleDir` as a content-addressed bundle and signs it. Paths in the
 * archive are relative to the project; `exclude` filters by relative path (e.g. `.git`).
 */
export async function writeBundle(
  projectDir: string,
  bundleDir: string,
  privateKey: KeyObject,
  exclude: (relativePath: string) => boolean = (p) => p === ".git" || p.startsWith(".git/"),
): Promise<{ digest: BundleDigest; file: string; size: number }> {
  await mkdir(bundleDir, { recursive: true });
  const temp = path.join(bundleDir, `.partial-${process.pid}-${Date.now()}.tgz`);
  try {
    await tar.create(
      {
        gzip: true,
        file: temp,
        cwd: projectDir,
        portable: true,
        // Same tree, same bytes: no times or owners in the archive.
        noMtime: true,
        filter: (p) => !exclude(p.replace(/^\.\//, "")),
      },
      ["."],
    );
    const digest = await digestOf(temp);
    const file = path.join(bundleDir, bundleFileName(digest));
    await rename(temp, file);
    const signature: BundleSignature = {
      digest,
      signature: sign(null, Buffer.from(digest), privateKey).toString("base64"),
      key_id: keyIdOf(privateKey),
    };
    await writeFile(signatureFileOf(file), `${JSON.stringify(signature)}\n`);
    return { digest, file, size: (await stat(file)).size };
  } finally {
    await rm(temp, { force: true });
  }
}

/**
 * Checks a bundle before anything of it is used: its signature file names the archive's real
 * digest, and the signature verifies with `publicKeyPem`. Throws BundleRefused saying why.
 */
export async function verifyBundle(bundlePath: string, publicKeyPem: string, expected?: BundleDigest): Promise<BundleDigest> {
  let signature: BundleSignature;
  try {
    signature = JSON.parse(await readFile(signatureFileOf(bundlePath), "utf8")) as BundleSignature;
  } catch (err) {
    throw new BundleRefused(`The bundle ${path.basename(bundlePath)} is not signed (${(err as Error).message})`);
  }
  let digest: BundleDigest;
  try {
    digest = await digestOf(bundlePath);
  } catch (err) {
    throw new BundleRefused(`The bundle ${path.basename(bundlePath)} cannot be read (${(err as Error).message})`);
  }
  if (signature.digest !== digest)
    throw new BundleRefused(
      `The bundle ${path.basename(bundlePath)} was altered: its digest is ${digest}, the signature is for ${signature.digest}`,
    );
  if (expected !== undefined && expected !== digest)
    throw new BundleRefused(`The bundle ${path.basename(bundlePath)} is ${digest}, not the revision's ${expected}`);
  const publicKey = createPublicKey(publicKeyPem);
  let valid = false;
  try {
    valid = verify(null, Buffer.from(digest), publicKey, Buffer.from(String(signature.signature), "base64"));
  } catch {
    valid = false;
  }
  if (!valid)
    throw new BundleRefused(
      `The bundle ${path.basename(bundlePath)} has a signature that does not verify with the platform's key`,
    );
  return digest;
}

/**
 * Verifies a bundle, then extracts it into `dest` (emptied first). Entries that would land
 * outside `dest` (absolute paths, `..`) and links are not extracted (node-tar strips them).
 */
export async function extractVerifiedBundle(
  bundlePath: string,
  publicKeyPem: string,
  dest: string,
  expected?: BundleDigest,
): Promise<BundleDigest> {
  const digest = await verifyBundle(bundlePath, publicKeyPem, expected);
  await rm(dest, { recursive: true, force: true });
  await mkdir(dest, { recursive: true });
  await tar.extract({ file: bundlePath, cwd: dest, strict: true, preservePaths: false });
  // The archive may have changed between the check and the read: check the bytes extracted from.
  if ((await digestOf(bundlePath)) !== digest) {
    await rm(dest, { recursive: true, force: true });
    throw new BundleRefused(`The bundle ${path.basename(bundlePath)} changed while it was extracted`);
  }
  return digest;
}

/**
 * One file of a bundle, read without extracting the rest (e.g. its SBOM); undefined when the
 * bundle has no such file. Larger than `maxBytes`: an error, so that a crafted entry cannot fill
 * memory.
 */
export async function readBundleEntry(bundlePath: string, entryPath: string, maxBytes: number): Promise<Buffer | undefined> {
  const wanted = entryPath.replace(/^\.\//, "");
  let found: Buffer | undefined;
  let tooLarge = false;
  await tar.list({
    file: bundlePath,
    strict: true,
    filter: (p) => p.replace(/^\.\//, "") === wanted,
    onReadEntry: (entry) => {
      if (entry.type !== "File" || entry.size > maxBytes) {
        tooLarge ||= entry.size > maxBytes;
        entry.resume();
        return;
      }
      const chunks: Buffer[] = [];
      entry.on("data", (chunk: Buffer) => chunks.push(chunk));
      entry.on("end", () => {
        found = Buffer.concat(chunks);
      });
    },
  });
  if (tooLarge) throw new Error(`${wanted} in ${path.basename(bundlePath)} is larger than ${maxBytes} bytes`);
  return found;
}
