import { stat } from "node:fs/promises";
import path from "node:path";
import * as tar from "tar";
import { CliError } from "./errors.js";

/** What an upload leaves out: installed packages, the repository's history, LangOpen's local data. */
const LEFT_OUT = new Set(["node_modules", ".git", ".langopen"]);

/** The largest upload the control plane takes (its limit too). */
export const MAX_UPLOAD_BYTES = 64 * 1024 * 1024;

/**
 * A project folder as the gzipped tar an upload carries: every file but what LEFT_OUT names (at
 * any depth), paths relative to the folder, owners and times left out so the same files give
 * the same bytes' meaning. Links are kept as links (the builder refuses those that lead outside).
 */
export async function packFolder(dir: string): Promise<{ data: Uint8Array; files: number }> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory())
    throw new CliError(`${dir} is not a folder`, "give --dir the project's folder (the one with langgraph.json)");
  let files = 0;
  const chunks: Buffer[] = [];
  let size = 0;
  const stream = tar.create(
    {
      gzip: true,
      cwd: dir,
      portable: true,
      filter: (entry, st) => {
        const keep = !entry.split(/[\\/]/).some((part) => LEFT_OUT.has(part));
        if (keep && "isFile" in st && st.isFile()) files++;
        return keep;
      },
    },
    ["."],
  );
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_UPLOAD_BYTES)
      throw new CliError(
        `${path.basename(dir)} packs to more than ${MAX_UPLOAD_BYTES / 1024 / 1024} MiB`,
        "leave large files out of the folder, or deploy from git",
      );
    chunks.push(chunk);
  }
  if (files === 0) throw new CliError(`${dir} holds no files to upload`);
  return { data: new Uint8Array(Buffer.concat(chunks)), files };
}
