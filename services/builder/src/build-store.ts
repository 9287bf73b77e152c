import { appendFile, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { BuildOutcome } from "./build.js";
import type { Defect } from "./failure.js";

export type BuildState = "QUEUED" | "RUNNING" | BuildOutcome;

/** A build as kept in `<dataDir>/builds/<build_id>/build.json` (the fields of the proto's Build). */
export interface BuildRecord {
  build_id: string;
  status: BuildState;
  message: string;
  defects: Defect[];
  commit_sha: string;
  bundle_digest: string;
  bundle_signature: string;
  graph_ids: string[];
  /** Normalized `egress` of langgraph.json; absent in records written before it was kept. */
  egress?: string[];
  sbom_components: number;
  /** ISO 8601. */
  create_time: string;
  end_time?: string;
  /** What was asked for (a git URL with its password masked, or the tarball's size). */
  source: { git: { url: string; ref: string } } | { tarball: { size: number } };
  config_path: string;
}

export interface StoredLine {
  time: Date;
  text: string;
}

export const isEnded = (status: BuildState) => status !== "QUEUED" && status !== "RUNNING";

const RECORD = "build.json";
const LOG = "log.txt";
/** An uploaded tarball waiting for its build (removed once the build ends). */
const TARBALL = "source.tgz";

/**
 * The builds on disk, one folder each: `build.json` (rewritten whole, atomically, at each change
 * of status) and `log.txt` (one `<ISO time> <text>` line per log line, appended). Build ids are
 * checked by the caller (`[A-Za-z0-9_-]{1,64}`), so they are safe as folder names.
 */
export class BuildStore {
  readonly buildsDir: string;

  constructor(dataDir: string) {
    this.buildsDir = path.join(dataDir, "builds");
  }

  dirOf(buildId: string): string {
    return path.join(this.buildsDir, buildId);
  }

  tarballOf(buildId: string): string {
    return path.join(this.dirOf(buildId), TARBALL);
  }

  /** Makes the build's folder; false when it exists (the id is taken). */
  async claim(buildId: string): Promise<boolean> {
    await mkdir(this.buildsDir, { recursive: true });
    try {
      await mkdir(this.dirOf(buildId));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw err;
    }
  }

  async release(buildId: string): Promise<void> {
    await rm(this.dirOf(buildId), { recursive: true, force: true });
  }

  async write(record: BuildRecord): Promise<void> {
    const file = path.join(this.dirOf(record.build_id), RECORD);
    const temp = `${file}.tmp`;
    await writeFile(temp, `${JSON.stringify(record, null, 2)}\n`);
    await rename(temp, file);
  }

  async read(buildId: string): Promise<BuildRecord | undefined> {
    try {
      return JSON.parse(await readFile(path.join(this.dirOf(buildId), RECORD), "utf8")) as BuildRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  async appendLines(buildId: string, lines: StoredLine[]): Promise<void> {
    if (lines.length === 0) return;
    await appendFile(path.join(this.dirOf(buildId), LOG), lines.map((l) => `${l.time.toISOString()} ${l.text}\n`).join(""));
  }

  async readLines(buildId: string): Promise<StoredLine[]> {
    let text: string;
    try {
      text = await readFile(path.join(this.dirOf(buildId), LOG), "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    const lines: StoredLine[] = [];
    for (const raw of text.split("\n")) {
      if (raw === "") continue;
      const space = raw.indexOf(" ");
      const time = new Date(raw.slice(0, space));
      lines.push(
        space > 0 && !Number.isNaN(time.getTime()) ? { time, text: raw.slice(space + 1) } : { time: new Date(0), text: raw },
      );
    }
    return lines;
  }

  /** The ids of every build on disk. */
  async ids(): Promise<string[]> {
    try {
      return (await readdir(this.buildsDir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
  }
}

/**
 * Appends a build's lines to its log file in order, in batches: lines logged while a write is
 * under way go in the next one. `flush` resolves once everything pushed so far is on disk.
 */
export class LogWriter {
  #pending: StoredLine[] = [];
  #writing: Promise<void> = Promise.resolve();
  #failed: unknown;

  constructor(
    private readonly store: BuildStore,
    private readonly buildId: string,
  ) {}

  push(line: StoredLine): void {
    this.#pending.push(line);
    if (this.#pending.length === 1) {
      this.#writing = this.#writing.then(async () => {
        const batch = this.#pending;
        this.#pending = [];
        await this.store.appendLines(this.buildId, batch).catch((err: unknown) => {
          this.#failed ??= err;
        });
      });
    }
  }

  /** Waits for the lines pushed so far; rejects if any write failed. */
  async flush(): Promise<void> {
    await this.#writing;
    if (this.#failed !== undefined) throw this.#failed;
  }
}
