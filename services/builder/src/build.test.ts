import { execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { access, chmod, mkdir, readdir, readFile, rm, stat, symlink } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { digestOf, extractVerifiedBundle, verifyBundle } from "@langopen/common";
import * as tar from "tar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BuildOptions, type BuildResult, type BuildSpec, runBuild } from "./build.js";
import { commitAll, git, makeLockedProject, makeRepo, simpleProject, tempDir, writeFiles } from "./test-fixtures/projects.js";

const exec = promisify(execFile);
const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const publicKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();

let root: string;
let bundleDir: string;
let workRoot: string;

beforeAll(async () => {
  root = await tempDir("build");
  bundleDir = path.join(root, "bundles");
  workRoot = path.join(root, "work");
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function build(spec: BuildSpec, extra: Partial<BuildOptions> = {}): Promise<BuildResult & { log: string[] }> {
  const log: string[] = [];
  const result = await runBuild(spec, {
    bundleDir,
    signingKey: privateKey,
    workRoot,
    allowFileUrls: true,
    timeoutMs: 60_000,
    log: (line) => log.push(line),
    ...extra,
  });
  return { ...result, log };
}

const gitSpec = (url: string, ref = "", configPath = ""): BuildSpec => ({ source: { git: { url, ref } }, configPath });

/** The work folder holds nothing once a build ended. */
const expectNoWork = async () => expect(await readdir(workRoot).catch(() => [])).toEqual([]);

async function repo(name: string, files: Record<string, string | object>): Promise<{ dir: string; url: string }> {
  const dir = path.join(root, "repos", name);
  await mkdir(dir, { recursive: true });
  return { dir, url: await makeRepo(dir, files) };
}

describe("runBuild from git", () => {
  it("builds a signed, verifiable, reproducible bundle with an SBOM, per ref", async () => {
    const { dir, url } = await repo("simple", simpleProject("v1"));
    const head = await git(dir, "rev-parse", "HEAD");
    await git(dir, "checkout", "-q", "-b", "next");
    await writeFiles(dir, { "src/agent.mjs": "export const graph = 'next';\n" });
    const nextHead = await commitAll(dir, "next");
    await git(dir, "checkout", "-q", "main");

    const first = await build(gitSpec(url, "main"));
    expect(first.message).toBe("");
    expect(first.status).toBe("SUCCEEDED");
    expect(first.commitSha).toBe(head);
    expect(first.graphIds).toEqual(["agent", "helper"]);
    expect(first.egress).toEqual([]);
    expect(first.log).toContain("egress: none declared");
    expect(first.defects).toEqual([]);
    expect(first.bundleDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await digestOf(first.bundleFile)).toBe(first.bundleDigest);
    expect(await verifyBundle(first.bundleFile, publicKeyPem, first.bundleDigest as `sha256:${string}`)).toBe(first.bundleDigest);
    expect(Buffer.from(first.bundleSignature, "base64")).toHaveLength(64);
    expect(first.log.join("\n")).toMatch(/cloning file:\/\/.* at main/);
    expect(first.log).toContain("validating langgraph.json");
    expect(
      first.log.some((l) => l.startsWith("installing dependencies (npm install") && l.includes("install scripts are not run")),
    ).toBe(true);
    expect(first.log.at(-1)).toMatch(/^bundle sha256:[0-9a-f]{64} signed/);

    const out = path.join(root, "extracted");
    await extractVerifiedBundle(first.bundleFile, publicKeyPem, out);
    expect(JSON.parse(await readFile(path.join(out, "langgraph.json"), "utf8")).graphs.agent).toBe("./src/agent.mjs:graph");
    await expect(access(path.join(out, ".git"))).rejects.toThrow();
    const sbom = JSON.parse(await readFile(path.join(out, ".langopen/sbom.cdx.json"), "utf8"));
    expect(sbom.bomFormat).toBe("CycloneDX");
    expect(sbom.specVersion).toBe("1.6");
    expect(sbom.metadata.component).toMatchObject({ type: "application", name: "simple-agent", version: "1.0.0" });
    expect(first.sbomComponents).toBe(0);

    // The same tree gives the same bytes, so the same digest.
    const again = await build(gitSpec(url, head));
    expect(again.status).toBe("SUCCEEDED");
    expect(again.bundleDigest).toBe(first.bundleDigest);

    // Another branch builds its own content.
    const next = await build(gitSpec(url, "next"));
    expect(next.status).toBe("SUCCEEDED");
    expect(next.commitSha).toBe(nextHead);
    expect(next.bundleDigest).not.toBe(first.bundleDigest);
    const nextOut = path.join(root, "extracted-next");
    await extractVerifiedBundle(next.bundleFile, publicKeyPem, nextOut);
    expect(await readFile(path.join(nextOut, "src/agent.mjs"), "utf8")).toContain("next");

    // The default branch when no ref is given; a tag; a short commit.
    await git(dir, "tag", "v1", head);
    expect((await build(gitSpec(url))).commitSha).toBe(head);
    expect((await build(gitSpec(url, "v1"))).commitSha).toBe(head);
    expect((await build(gitSpec(url, nextHead.slice(0, 10)))).commitSha).toBe(nextHead);
    await expectNoWork();
  }, 60_000);

  it("carries the project's egress, merged and normalized, and logs it", async () => {
    const project = simpleProject();
    const { url } = await repo("egress", {
      ...project,
      "langgraph.json": {
        ...(project["langgraph.json"] as object),
        egress: [
          "API.OpenAI.com:443",
          "*.anthropic.com:443",
          "203.0.113.0/24:8443,443",
          "[2001:DB8::]/32:443",
          "api.openai.com:8443",
        ],
      },
    });
    const result = await build(gitSpec(url));
    expect(result.message).toBe("");
    expect(result.status).toBe("SUCCEEDED");
    const normalized = ["api.openai.com:443,8443", "*.anthropic.com:443", "203.0.113.0/24:443,8443", "[2001:db8::]/32:443"];
    expect(result.egress).toEqual(normalized);
    expect(result.log).toContain(`egress: ${normalized.join(", ")}`);
  });

  it("installs a locked dependency and lists it in the SBOM", async () => {
    const dir = path.join(root, "repos", "locked");
    await mkdir(dir, { recursive: true });
    const url = await makeLockedProject(dir);
    const result = await build(gitSpec(url), { npmCache: path.join(root, "npm-cache") });
    expect(result.message).toBe("");
    expect(result.status).toBe("SUCCEEDED");
    expect(result.log.some((l) => l.startsWith("installing dependencies (npm ci, from the lockfile"))).toBe(true);
    expect(result.sbomComponents).toBe(1);
    const out = path.join(root, "extracted-locked");
    await extractVerifiedBundle(result.bundleFile, publicKeyPem, out);
    expect(JSON.parse(await readFile(path.join(out, "node_modules/.package-lock.json"), "utf8")).packages).toHaveProperty(
      "node_modules/tiny",
    );
    const sbom = JSON.parse(await readFile(path.join(out, ".langopen/sbom.cdx.json"), "utf8"));
    expect(sbom.metadata.component).toMatchObject({ name: "locked-agent", version: "0.2.0", purl: "pkg:npm/locked-agent@0.2.0" });
    expect(sbom.components).toEqual([
      expect.objectContaining({ type: "library", name: "tiny", version: "2.3.4", purl: "pkg:npm/tiny@2.3.4" }),
    ]);
    await expectNoWork();
  }, 60_000);

  it("lists a package's integrity hash in the SBOM when the lockfile has one", async () => {
    const dir = path.join(root, "repos", "hashed");
    await writeFiles(dir, { "pkg/package.json": { name: "@acme/hashed", version: "1.0.0" }, "pkg/index.js": "" });
    await exec("npm", ["pack", "--silent", "--pack-destination", dir], {
      cwd: path.join(dir, "pkg"),
      env: { PATH: process.env.PATH, HOME: dir, npm_config_cache: path.join(root, "npm-cache") },
    });
    await rm(path.join(dir, "pkg"), { recursive: true });
    await writeFiles(dir, {
      "package.json": { name: "hashed-agent", version: "1.0.0", dependencies: { "@acme/hashed": "file:acme-hashed-1.0.0.tgz" } },
      "langgraph.json": { graphs: { agent: "./agent.mjs:graph" } },
      "agent.mjs": "export const graph = 1;\n",
    });
    const tarball = await tarOf(dir);
    const result = await build({ source: { tarball } });
    expect(result.message).toBe("");
    const out = path.join(root, "extracted-hashed");
    await extractVerifiedBundle(result.bundleFile, publicKeyPem, out);
    const sbom = JSON.parse(await readFile(path.join(out, ".langopen/sbom.cdx.json"), "utf8"));
    expect(sbom.components[0]).toMatchObject({ group: "@acme", name: "hashed", purl: "pkg:npm/%40acme/hashed@1.0.0" });
    expect(sbom.components[0].hashes).toEqual([{ alg: "SHA-512", content: expect.stringMatching(/^[0-9a-f]{128}$/) }]);
  }, 60_000);
});

describe("runBuild defects", () => {
  it("reports a missing langgraph.json", async () => {
    const { url } = await repo("no-config", { "package.json": {} });
    const result = await build(gitSpec(url));
    expect(result.status).toBe("FAILED");
    expect(result.message).toBe("langgraph.json has 1 defect");
    expect(result.defects).toEqual([{ file: "langgraph.json", line: 0, message: "not found in the source" }]);
    expect(result.log).toContain("langgraph.json: not found in the source");
    expect(result.bundleDigest).toBe("");
    await expectNoWork();
  });

  it("reports invalid JSON at the line of the syntax error", async () => {
    const { url } = await repo("bad-json", { "langgraph.json": '{\n  "graphs": {\n    "agent": "./a.mjs:graph",\n  }\n}\n' });
    const result = await build(gitSpec(url));
    expect(result.status).toBe("FAILED");
    expect(result.defects).toHaveLength(1);
    expect(result.defects[0]).toMatchObject({ file: "langgraph.json", line: 4 });
    expect(result.defects[0]?.message).toMatch(/^not valid JSON/);
  });

  it("reports a graph whose file does not exist at the line of that graph, and every defect at once", async () => {
    const { url } = await repo("missing-graph", {
      "langgraph.json":
        '{\n  "graphs": {\n    "agent": "./src/agent.mjs:graph",\n    "broken": "./src/missing.ts:graph"\n  }\n}\n',
      "src/agent.mjs": "export const graph = 1;\n",
    });
    const one = await build(gitSpec(url));
    expect(one.status).toBe("FAILED");
    expect(one.defects).toEqual([
      { file: "langgraph.json", line: 4, message: 'graph "broken": ./src/missing.ts does not exist' },
    ]);
    expect(one.log).toContain('langgraph.json:4: graph "broken": ./src/missing.ts does not exist');

    const { url: twoUrl } = await repo("two-defects", {
      "config/langgraph.json":
        '{\n  "graphs": {\n    "a": "./a.mjs:graph",\n    "b": "./b.mjs:graph"\n  },\n  "unknown_key": true\n}\n',
    });
    const two = await build(gitSpec(twoUrl, "", "config/langgraph.json"));
    expect(two.message).toBe("config/langgraph.json has 3 defects");
    expect(two.defects).toEqual([
      { file: "config/langgraph.json", line: 6, message: expect.stringContaining('unknown key "unknown_key"') },
      { file: "config/langgraph.json", line: 3, message: 'graph "a": ./a.mjs does not exist' },
      { file: "config/langgraph.json", line: 4, message: 'graph "b": ./b.mjs does not exist' },
    ]);
  });

  it("reports each bad egress entry at its line, with the file's other defects", async () => {
    const { url } = await repo("bad-egress", {
      "langgraph.json": `{
  "graphs": {
    "agent": "./agent.mjs:graph"
  },
  "egress": [
    "api.openai.com:443",
    "api.openai.com",
    "10.0.0.1/8:443"
  ],
  "unknown_key": true
}
`,
      "agent.mjs": "export const graph = 1;\n",
    });
    const result = await build(gitSpec(url));
    expect(result.status).toBe("FAILED");
    expect(result.message).toBe("langgraph.json has 3 defects");
    expect(result.egress).toEqual([]);
    expect(result.defects).toEqual([
      { file: "langgraph.json", line: 10, message: expect.stringContaining('unknown key "unknown_key"') },
      {
        file: "langgraph.json",
        line: 7,
        message:
          'egress entry "api.openai.com": it names no port: write "host:port" or "cidr:port", such as "api.openai.com:443"',
      },
      {
        file: "langgraph.json",
        line: 8,
        message: 'egress entry "10.0.0.1/8:443": 10.0.0.1/8 has bits set past its prefix length: the block is 10.0.0.0/8',
      },
    ]);
    expect(result.log).toContain(
      'langgraph.json:7: egress entry "api.openai.com": it names no port: write "host:port" or "cidr:port", such as "api.openai.com:443"',
    );

    // Not a list: the defect is at the key.
    const { url: notList } = await repo("egress-not-list", {
      "langgraph.json": '{\n  "graphs": {"agent": "./agent.mjs:graph"},\n  "egress": "api.openai.com:443"\n}\n',
      "agent.mjs": "export const graph = 1;\n",
    });
    expect((await build(gitSpec(notList))).defects).toEqual([
      {
        file: "langgraph.json",
        line: 3,
        message:
          '"egress" must be a list of strings such as "api.openai.com:443" or "203.0.113.0/24:443", got "api.openai.com:443"',
      },
    ]);
  });

  it("refuses a config path or a graph outside the source", async () => {
    const { url } = await repo("outside", { "langgraph.json": { graphs: { agent: "../../etc/passwd:graph" } } });
    const outside = await build(gitSpec(url));
    expect(outside.defects).toEqual([
      { file: "langgraph.json", line: 3, message: 'graph "agent": ../../etc/passwd is outside the project' },
    ]);
    const escaping = await build(gitSpec(url, "", "../langgraph.json"));
    expect(escaping.status).toBe("FAILED");
    expect(escaping.defects[0]?.message).toBe("the config path must be a file inside the source");
  });

  it("refuses dependencies on this machine's files outside the source, in package.json and in the lockfile", async () => {
    // What a hostile repository could ask npm to copy into its bundle: another project of the machine.
    const secret = path.join(root, "secret-pkg");
    await mkdir(secret, { recursive: true });
    await writeFiles(secret, { "package.json": { name: "secret-pkg", version: "1.0.0" }, "key.pem": "PRIVATE" });
    const manifest =
      '{\n  "name": "thief",\n  "dependencies": {\n    "stolen": "file:../../secret-pkg",\n    "cloned": "git+file:///srv/other.git"\n  }\n}\n';
    const { url } = await repo("outside-deps", { ...simpleProject(), "package.json": manifest });
    const result = await build(gitSpec(url));
    expect(result.status).toBe("FAILED");
    expect(result.message).toBe("2 dependencies lie outside the source");
    expect(result.defects).toEqual([
      { file: "package.json", line: 4, message: 'dependency "stolen" (file:../../secret-pkg) is outside the source' },
      {
        file: "package.json",
        line: 5,
        message:
          'dependency "cloned" (git+file:///srv/other.git) is a git repository of this machine, which the builder does not clone',
      },
    ]);
    expect(result.bundleDigest).toBe("");

    const lock = {
      name: "thief",
      lockfileVersion: 3,
      packages: {
        "": { name: "thief", dependencies: { innocent: "^1.0.0" } },
        "node_modules/innocent": { version: "1.0.0", resolved: `file:${secret}` },
      },
    };
    const { url: lockUrl } = await repo("outside-lock", {
      ...simpleProject(),
      "package.json": { name: "thief", dependencies: { innocent: "^1.0.0" } },
      "package-lock.json": lock,
    });
    const locked = await build(gitSpec(lockUrl));
    expect(locked.status).toBe("FAILED");
    expect(locked.defects).toEqual([
      {
        file: "package-lock.json",
        line: expect.any(Number),
        message: `dependency "innocent" (file:${secret}) is outside the source`,
      },
    ]);
    expect(locked.defects[0]?.line).toBeGreaterThan(0);
    await expectNoWork();
  });

  it("does not install or write through links of the source", async () => {
    const { dir } = await repo("links", simpleProject());
    const outside = path.join(root, "outside-target");
    await mkdir(outside, { recursive: true });
    await symlink(outside, path.join(dir, "node_modules"));
    await symlink(outside, path.join(dir, ".langopen"));
    await commitAll(dir, "links");
    const result = await build(gitSpec(`file://${dir}`));
    expect(result.status).toBe("FAILED");
    expect(result.message).toBe("node_modules, .langopen may not be a symbolic link");
    expect(result.defects.map((d) => d.file)).toEqual(["node_modules", ".langopen"]);
    expect(await readdir(outside)).toEqual([]);
  });

  it("fails on a ref that does not exist", async () => {
    const { url } = await repo("refs", simpleProject());
    const result = await build(gitSpec(url, "no-such-branch"));
    expect(result.status).toBe("FAILED");
    expect(result.message).toBe(`ref no-such-branch does not exist in ${url}`);
    await expectNoWork();
  });

  it("refuses file:// URLs unless allowed, and URLs git would read as options or helpers", async () => {
    const { url } = await repo("refused", simpleProject());
    const notAllowed = await build(gitSpec(url), { allowFileUrls: false });
    expect(notAllowed.status).toBe("FAILED");
    expect(notAllowed.message).toMatch(/does not clone file:\/\/ URLs/);
    const pathNotAllowed = await build(gitSpec(url.slice("file://".length)), { allowFileUrls: false });
    expect(pathNotAllowed.message).toMatch(/does not clone file:\/\/ URLs or local paths/);

    const marker = path.join(root, "injected");
    for (const bad of [
      `--upload-pack=touch ${marker}`,
      `-u touch ${marker}`,
      `ext::sh -c touch% ${marker}`,
      `ext::touch ${marker}`,
      "ext::true",
      "http://example.com/repo.git",
      "git://example.com/repo.git",
      "ssh://-oProxyCommand=touch/x",
      "git@-oProxyCommand=x:repo",
    ]) {
      const refused = await build(gitSpec(bad));
      expect(refused.status, bad).toBe("FAILED");
      expect(refused.message, bad).toMatch(/refused/);
      expect(
        refused.log.some((l) => l.startsWith("cloning")),
        bad,
      ).toBe(false);
    }
    await expect(access(marker)).rejects.toThrow();
    // A ref git would read as an option.
    const badRef = await build(gitSpec(url, `--upload-pack=touch ${marker}`));
    expect(badRef.message).toMatch(/is not a valid branch, tag or commit/);
    await expect(access(marker)).rejects.toThrow();
    await expectNoWork();
  });

  it("fails when a dependency does not install", async () => {
    const { url } = await repo("missing-dep", {
      ...simpleProject(),
      "package.json": { name: "x", version: "1.0.0", dependencies: { tiny: "file:./missing-folder" } },
    });
    const folder = await build(gitSpec(url));
    expect(folder.status).toBe("FAILED");
    expect(folder.message).toBe("dependencies did not install: linked package not found: tiny (missing-folder)");
    expect(folder.defects).toEqual([
      { file: "package.json", line: 0, message: "linked package not found: tiny (missing-folder)" },
    ]);

    const { url: tgzUrl } = await repo("missing-tgz", {
      ...simpleProject(),
      "package.json": { name: "x", version: "1.0.0", dependencies: { tiny: "file:./missing.tgz" } },
    });
    const tgz = await build(gitSpec(tgzUrl));
    expect(tgz.status).toBe("FAILED");
    expect(tgz.message).toMatch(/^dependencies did not install: .*ENOENT.*missing\.tgz/);
    expect(tgz.defects).toEqual([{ file: "package.json", line: 0, message: expect.stringMatching(/^npm install failed: /) }]);
    await expectNoWork();
  }, 60_000);
});

describe("runBuild stops", () => {
  it("ends CANCELLED when cancelled while git runs, and TIMED_OUT past its limit", async () => {
    const { url } = await repo("stops", simpleProject());
    const controller = new AbortController();
    const log: string[] = [];
    const pending = runBuild(gitSpec(url), {
      bundleDir,
      signingKey: privateKey,
      workRoot,
      allowFileUrls: true,
      signal: controller.signal,
      log: (line) => {
        log.push(line);
        // Cancel the moment the clone starts.
        if (line.startsWith("cloning")) controller.abort();
      },
    });
    const cancelled = await pending;
    expect(cancelled.status).toBe("CANCELLED");
    expect(cancelled.message).toBe("the build was cancelled");
    await expectNoWork();

    const timedOut = await build(gitSpec(url), { timeoutMs: 1 });
    expect(timedOut.status).toBe("TIMED_OUT");
    expect(timedOut.message).toBe("the build ran past its time limit (1 ms)");
    expect(timedOut.bundleDigest).toBe("");
    await expectNoWork();

    const before = new AbortController();
    before.abort();
    expect((await build(gitSpec(url), { signal: before.signal })).status).toBe("CANCELLED");
    await expectNoWork();
  });

  it("kills npm when cancelled during the install", async () => {
    const { url } = await repo("slow-install", {
      ...simpleProject(),
      // An unreachable registry: npm waits on it (retries) until it is killed.
      ".npmrc": "registry=http://127.0.0.1:9/\nfetch-retries=5\nfetch-retry-mintimeout=10000\n",
      "package.json": { name: "x", version: "1.0.0", dependencies: { "left-pad": "1.3.0" } },
    });
    const controller = new AbortController();
    const started = Date.now();
    const result = await runBuild(gitSpec(url), {
      bundleDir,
      signingKey: privateKey,
      workRoot,
      allowFileUrls: true,
      signal: controller.signal,
      log: (line) => {
        if (line.startsWith("installing dependencies")) setTimeout(() => controller.abort(), 300);
      },
    });
    expect(result.status).toBe("CANCELLED");
    expect(Date.now() - started).toBeLessThan(15_000);
    await expectNoWork();
  }, 30_000);
});

async function tarOf(dir: string, entries = ["."]): Promise<Uint8Array> {
  const file = path.join(root, `upload-${Date.now()}-${Math.random()}.tgz`);
  await tar.create({ gzip: true, file, cwd: dir, portable: true }, entries);
  const data = await readFile(file);
  await rm(file);
  return data;
}

describe("runBuild from a tarball", () => {
  it("builds an uploaded project", async () => {
    const dir = path.join(root, "upload");
    await writeFiles(dir, simpleProject());
    const result = await build({ source: { tarball: await tarOf(dir) } });
    expect(result.message).toBe("");
    expect(result.status).toBe("SUCCEEDED");
    expect(result.commitSha).toBe("");
    expect(result.graphIds).toEqual(["agent", "helper"]);
  });

  it("refuses entries outside the project, links pointing out, and archives that are not tarballs", async () => {
    const dir = path.join(root, "evil");
    await writeFiles(dir, simpleProject());
    await symlink("/etc/passwd", path.join(dir, "link"));
    const withLink = await build({ source: { tarball: await tarOf(dir) } });
    expect(withLink.status).toBe("FAILED");
    expect(withLink.message).toMatch(/link "\.\/link" points outside the project/);

    // An entry named ../escaped, written by hand (node-tar would not write one).
    const header = Buffer.alloc(512);
    header.write("../escaped", 0);
    header.write("0000644\0", 100);
    header.write("0000000\0", 108);
    header.write("0000000\0", 116);
    header.write("00000000005\0", 124);
    header.write("00000000000\0", 136);
    header.write("        ", 148);
    header.write("0", 156);
    header.write("ustar\0", 257);
    header.write("00", 263);
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
    const body = Buffer.alloc(512);
    body.write("hello");
    const escaping = await build({ source: { tarball: gzipSync(Buffer.concat([header, body, Buffer.alloc(1024)])) } });
    expect(escaping.status).toBe("FAILED");
    expect(escaping.message).toMatch(/entry "\.\.\/escaped" is outside the project/);
    await expect(stat(path.join(workRoot, "escaped"))).rejects.toThrow();

    const garbage = await build({ source: { tarball: new TextEncoder().encode("not a tarball") } });
    expect(garbage.status).toBe("FAILED");
    expect(garbage.message).toMatch(/tarball/);
    expect((await build({ source: { tarball: new Uint8Array() } })).message).toBe("the tarball is empty");
    await expectNoWork();
  });
});

// A builder started as root runs git and npm as an unprivileged user, which cannot read the
// platform's keys, bundles or other builds.
describe.runIf(process.getuid?.() === 0)("runBuild as an unprivileged user", () => {
  const nobody = { uid: 65534, gid: 65534 };
  let open: string;

  beforeAll(async () => {
    // A folder that user may enter (its temp folder is private otherwise), for the work and a repository.
    open = await tempDir("open");
    await chmod(open, 0o755);
  });

  afterAll(async () => {
    await rm(open, { recursive: true, force: true });
  });

  const buildAsNobody = (spec: BuildSpec, npmCache?: string) =>
    build(spec, { user: nobody, workRoot: path.join(open, "work"), ...(npmCache && { npmCache }) });

  it("clones and installs as that user when the repository and the npm cache are within its reach", async () => {
    const dir = path.join(open, "repos", "locked");
    await mkdir(dir, { recursive: true });
    const url = await makeLockedProject(dir);
    const cache = path.join(open, "npm-cache");
    const result = await buildAsNobody(gitSpec(url), cache);
    expect(result.message).toBe("");
    expect(result.status).toBe("SUCCEEDED");
    expect(result.log).toContain("git and npm run as uid 65534 gid 65534");
    expect(result.log).toContain("node_modules written by uid 65534");
    // The cache the builder made is that user's; the bundle still verifies.
    expect((await stat(cache)).uid).toBe(65534);
    await extractVerifiedBundle(result.bundleFile, publicKeyPem, path.join(open, "extracted"));
  }, 60_000);

  it("unpacks an upload for that user", async () => {
    const dir = path.join(open, "upload-src");
    await mkdir(dir, { recursive: true });
    await makeLockedProject(dir);
    await rm(path.join(dir, ".git"), { recursive: true, force: true });
    const result = await buildAsNobody({ source: { tarball: await tarOf(dir) } });
    expect(result.status).toBe("SUCCEEDED");
    expect(result.log).toContain("node_modules written by uid 65534");
  }, 60_000);

  it("says why it runs the tools as its own user when the repository is out of that user's reach", async () => {
    // The suite's repositories sit in a private temp folder.
    const { url } = await repo("private", simpleProject());
    const result = await buildAsNobody(gitSpec(url));
    expect(result.status).toBe("SUCCEEDED");
    expect(result.log).toContainEqual(
      expect.stringMatching(/^git and npm run as this process's user: .* is out of reach of uid 65534 gid 65534$/),
    );
  }, 60_000);
});
