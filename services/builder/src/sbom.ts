import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { Enums, Models, Serialize, Spec } from "@cyclonedx/cyclonedx-library";
import { PackageURL } from "packageurl-js";
import { installedPackages, type LockedPackage } from "./install.js";

/** Where the SBOM goes, relative to the project (inside the bundle, so it is signed with it). */
export const SBOM_PATH = ".langopen/sbom.cdx.json";

const HASHES: Record<string, Enums.HashAlgorithm> = {
  sha1: Enums.HashAlgorithm["SHA-1"],
  sha256: Enums.HashAlgorithm["SHA-256"],
  sha384: Enums.HashAlgorithm["SHA-384"],
  sha512: Enums.HashAlgorithm["SHA-512"],
};

/** An npm package's purl: `pkg:npm/%40scope/name@version`. */
function purlOf(fullName: string, version: string | undefined): string {
  const slash = fullName.startsWith("@") ? fullName.indexOf("/") : -1;
  const namespace = slash > 0 ? fullName.slice(0, slash) : undefined;
  const name = slash > 0 ? fullName.slice(slash + 1) : fullName;
  return new PackageURL("npm", namespace, name, version, undefined, undefined).toString();
}

/** A package name's scope (CycloneDX `group`) and name. */
function splitName(fullName: string): { group?: string; name: string } {
  const slash = fullName.startsWith("@") ? fullName.indexOf("/") : -1;
  return slash > 0 ? { group: fullName.slice(0, slash), name: fullName.slice(slash + 1) } : { name: fullName };
}

/** An SRI integrity string (`sha512-<base64> ...`) as CycloneDX hashes (hex). */
function hashesOf(integrity: string | undefined): Models.HashDictionary {
  const hashes = new Models.HashDictionary();
  for (const part of (integrity ?? "").split(/\s+/)) {
    const dash = part.indexOf("-");
    const algorithm = dash > 0 ? HASHES[part.slice(0, dash)] : undefined;
    if (algorithm === undefined) continue;
    hashes.set(algorithm, Buffer.from(part.slice(dash + 1), "base64").toString("hex"));
  }
  return hashes;
}

/** The package of each installed path: its own entry, or the entry of the folder a link points to. */
function installedComponents(packages: Record<string, LockedPackage>): Models.Component[] {
  const byRef = new Map<string, Models.Component>();
  for (const [key, entry] of Object.entries(packages)) {
    const at = key.lastIndexOf("node_modules/");
    if (at < 0) continue;
    const target = entry.link && typeof entry.resolved === "string" ? (packages[entry.resolved] ?? {}) : entry;
    const fullName = target.name ?? key.slice(at + "node_modules/".length);
    const version = target.version;
    const purl = purlOf(fullName, version);
    if (byRef.has(purl)) continue;
    const { group, name } = splitName(fullName);
    byRef.set(
      purl,
      new Models.Component(Enums.ComponentType.Library, name, {
        bomRef: purl,
        group,
        version,
        purl,
        hashes: hashesOf(target.integrity),
        scope: target.optional ? Enums.ComponentScope.Optional : Enums.ComponentScope.Required,
      }),
    );
  }
  return [...byRef.values()];
}

/**
 * Writes a CycloneDX 1.6 JSON SBOM of the project's installed tree to `<projectDir>/.langopen/`:
 * the project (its package.json's name and version) as the root component, and one component
 * per installed package from npm's hidden lockfile (else the project's lockfile), with its purl
 * and integrity hash. No timestamp or serial number: the same tree gives the same bytes, so the
 * bundle's digest stays reproducible. Returns the number of components.
 */
export async function writeSbom(projectDir: string): Promise<{ file: string; components: number }> {
  let pkg: { name?: unknown; version?: unknown } = {};
  try {
    pkg = JSON.parse(await readFile(path.join(projectDir, "package.json"), "utf8")) as typeof pkg;
  } catch {
    // No package.json (or not JSON, which the install already reported): the folder names the root.
  }
  const rootName = typeof pkg.name === "string" && pkg.name !== "" ? pkg.name : "project";
  const rootVersion = typeof pkg.version === "string" ? pkg.version : undefined;
  const { group, name } = splitName(rootName);
  const rootPurl = purlOf(rootName, rootVersion);
  const bom = new Models.Bom();
  const root = new Models.Component(Enums.ComponentType.Application, name, {
    bomRef: rootPurl,
    group,
    version: rootVersion,
    purl: rootPurl,
  });
  bom.metadata.component = root;
  // Components only: which package requires which is not claimed (the lockfile's tree is in the bundle).
  for (const component of installedComponents(await installedPackages(projectDir))) bom.components.add(component);
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6));
  const file = path.join(projectDir, SBOM_PATH);
  await mkdir(path.dirname(file), { recursive: true });
  // A file of the source in its place (a link, say) is replaced, never written through.
  await rm(file, { recursive: true, force: true });
  await writeFile(file, `${serializer.serialize(bom, { sortLists: true, space: 2 })}\n`, { flag: "wx" });
  return { file, components: bom.components.size };
}
