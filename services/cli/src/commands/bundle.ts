import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { finished } from "node:stream/promises";
import { type BundleDigest, BundleRefused, bundleFileName, extractVerifiedBundle, signatureFileOf } from "@langopen/common";
import { expectPositionals, parseCommand, required } from "../args.js";
import { asCallFailed } from "../client.js";
import type { Command } from "../context.js";
import { CliError } from "../errors.js";
import { jsonLine, line } from "../output.js";

export const bundleFetchCommand: Command = {
  name: "bundle fetch",
  summary: "download a revision's signed bundle, verify it and extract it (for a data plane elsewhere)",
  remote: true,
  usage: `Usage: langopen bundle fetch REVISION_ID --public-key FILE --to DIR [--json]

Downloads the bundle a revision was built into, checks its sha256 digest and its signature with
the platform's public key (signing-key.pub.pem in the platform folder), and only then extracts it
into DIR (which must be empty or absent). An altered or unsigned bundle is refused and nothing is
extracted.

Options:
  --public-key FILE  the platform's Ed25519 public key (PEM)
  --to DIR           where the project goes
  --json             print {"digest", "dir", "bytes"} as one JSON object`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, {
      "public-key": { type: "string" },
      to: { type: "string" },
      json: { type: "boolean" },
    });
    const [revisionId] = expectPositionals(positionals, ["REVISION_ID"]) as [string];
    const keyFile = path.resolve(ctx.cwd, required(values["public-key"], "public-key"));
    const to = path.resolve(ctx.cwd, required(values.to, "to"));
    const publicKeyPem = await readFile(keyFile, "utf8").catch((err: Error) => {
      throw new CliError(`cannot read the public key ${keyFile}: ${err.message}`);
    });
    const present = await readdir(to).catch(() => []);
    if (present.length > 0) throw new CliError(`${to} is not empty`, "give --to a new or empty folder");
    const control = ctx.control(values);
    // The download goes beside the destination, and is removed whatever happens.
    await mkdir(path.dirname(to), { recursive: true });
    const scratch = await mkdtemp(`${to}.download-`);
    try {
      let file: string | undefined;
      let out: ReturnType<typeof createWriteStream> | undefined;
      let digest = "";
      let bytes = 0;
      try {
        for await (const res of control.deployments.getBundle({ revisionId })) {
          if (res.part.case === "header") {
            digest = res.part.value.digest;
            file = path.join(scratch, bundleFileName(digest as BundleDigest));
            await writeFile(signatureFileOf(file), res.part.value.signature);
            out = createWriteStream(file);
          } else if (res.part.case === "chunk") {
            if (!out) throw new CliError("the control plane sent the bundle's bytes before its header");
            bytes += res.part.value.length;
            if (!out.write(res.part.value)) await once(out, "drain");
          }
        }
      } catch (err) {
        if (err instanceof CliError) throw err;
        throw asCallFailed(`fetch the bundle of revision ${revisionId}`, err, control.url);
      } finally {
        out?.end();
        if (out) await finished(out).catch(() => {});
      }
      if (!file) throw new CliError("the control plane sent no bundle");
      try {
        await extractVerifiedBundle(file, publicKeyPem, to, digest as BundleDigest);
      } catch (err) {
        if (err instanceof BundleRefused) throw new CliError(`refused the bundle of revision ${revisionId}: ${err.message}`);
        throw err;
      }
      if (values.json) jsonLine(ctx.stdout, { digest, dir: to, bytes });
      else line(ctx.stdout, `${digest} verified, extracted into ${to} (${bytes} bytes)`);
      return 0;
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  },
};
