import type { KeyObject } from "node:crypto";
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { alreadyExists, invalidArgument, type Logger, notFound } from "@langopen/common";
import {
  type Build,
  BuilderService,
  BuildSchema,
  BuildStatus,
  LogLineSchema,
  type StartBuildRequest,
  type StreamBuildLogResponse,
  StreamBuildLogResponseSchema,
} from "@langopen/gen/langopen/builder/v1/builder_service_pb";
import { type BuildResult, type BuildSource, runBuild } from "./build.js";
import { type BuildRecord, type BuildState, BuildStore, isEnded, LogWriter, type StoredLine } from "./build-store.js";
import type { BuildUser } from "./child.js";
import { MAX_TARBALL_BYTES, redactUrl } from "./source.js";

export interface BuilderServiceOptions {
  /** Where builds are kept: `builds/<build_id>/{build.json,log.txt}`, and `work/` while they run. */
  dataDir: string;
  /** Where bundles are written. */
  bundleDir: string;
  /** The platform's signing key (loadOrCreateSigningKey). */
  signingKey: KeyObject;
  logger: Logger;
  /** Whether builds may clone file:// URLs and local paths. Default: false. */
  allowFileUrls?: boolean;
  /** Each build's time limit. Default: 15 minutes. */
  timeoutMs?: number;
  /** Builds run at once; the others wait, QUEUED. Default: 2. */
  concurrency?: number;
  /** A shared npm cache for installs; absent: a scratch one per build. */
  npmCache?: string | undefined;
  /** The unprivileged user git and npm run as (see BuildOptions.user); absent: this process's. */
  user?: BuildUser | undefined;
}

export interface BuilderServiceHandle {
  /** Registers BuilderService on a router (the builder's own server's, or the control plane's). */
  register(router: ConnectRouter): void;
  /** The handlers, for a router or transport made elsewhere. */
  readonly impl: ServiceImpl<typeof BuilderService>;
  /** Ends queued and running builds (FAILED, "the builder stopped") and waits for them. */
  close(): Promise<void>;
}

export const DEFAULT_BUILD_TIMEOUT_MS = 15 * 60_000;
export const DEFAULT_BUILD_CONCURRENCY = 2;
const BUILD_ID = /^[A-Za-z0-9_-]{1,64}$/;

const STATUS: Record<BuildState, BuildStatus> = {
  QUEUED: BuildStatus.QUEUED,
  RUNNING: BuildStatus.RUNNING,
  SUCCEEDED: BuildStatus.SUCCEEDED,
  FAILED: BuildStatus.FAILED,
  CANCELLED: BuildStatus.CANCELLED,
  TIMED_OUT: BuildStatus.TIMED_OUT,
};

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

function deferred(): Deferred {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A build of this process, from StartBuild until it ended and was written to disk. */
interface LiveBuild {
  record: BuildRecord;
  /** Every line so far, for followers; dropped (left to followers holding it) once the build ended. */
  lines: StoredLine[];
  writer: LogWriter;
  /** Resolved (and replaced) at each new line and at the end. */
  changed: Deferred;
  /** False once the record is final on disk. */
  live: boolean;
  spec?: { source: BuildSource | { tarballFile: string }; configPath: string };
  abort?: AbortController;
  /** Why this process stopped it (a shutdown), instead of a cancel. */
  stoppedBy?: string;
  done: Deferred;
}

export function toBuildMessage(record: BuildRecord): Build {
  return create(BuildSchema, {
    buildId: record.build_id,
    status: STATUS[record.status] ?? BuildStatus.UNSPECIFIED,
    message: record.message,
    defects: record.defects,
    commitSha: record.commit_sha,
    bundleDigest: record.bundle_digest,
    bundleSignature: record.bundle_signature,
    graphIds: record.graph_ids,
    egress: record.egress ?? [],
    sbomComponents: record.sbom_components,
    createTime: timestampFromDate(new Date(record.create_time)),
    endTime: record.end_time ? timestampFromDate(new Date(record.end_time)) : undefined,
  });
}

const lineMessage = (line: StoredLine): StreamBuildLogResponse =>
  create(StreamBuildLogResponseSchema, { line: create(LogLineSchema, { time: timestampFromDate(line.time), text: line.text }) });

/**
 * BuilderService: builds run in the background, at most `concurrency` at once (FIFO), each with
 * runBuild. Every build is kept in memory while it runs and on disk for good (see BuildStore),
 * so GetBuild and StreamBuildLog answer for builds of an earlier process too; builds that an
 * earlier process left QUEUED or RUNNING are marked FAILED "interrupted by a restart" before
 * the first call is answered. Independent of any server: register it on any router.
 */
export function createBuilderService(options: BuilderServiceOptions): BuilderServiceHandle {
  const { logger } = options;
  const store = new BuildStore(options.dataDir);
  const workRoot = path.join(options.dataDir, "work");
  const concurrency = Math.max(1, options.concurrency ?? DEFAULT_BUILD_CONCURRENCY);
  const builds = new Map<string, LiveBuild>();
  const queue: LiveBuild[] = [];
  let running = 0;
  let closing = false;

  const ready = recover().catch((err: unknown) => {
    logger.error({ err }, "Failed to recover builds from disk");
    throw err;
  });
  // Awaited by every call; a failure is reported there.
  ready.catch(() => {});

  /** Marks the builds an earlier process did not finish, and removes its work folders. */
  async function recover(): Promise<void> {
    await rm(workRoot, { recursive: true, force: true });
    for (const id of await store.ids()) {
      const record = await store.read(id).catch(() => undefined);
      if (!record) {
        // Claimed, never written: the process stopped inside StartBuild.
        await store.release(id);
        continue;
      }
      await rm(store.tarballOf(id), { force: true });
      if (isEnded(record.status)) continue;
      const now = new Date();
      await store.appendLines(id, [{ time: now, text: "interrupted by a restart" }]);
      await store.write({ ...record, status: "FAILED", message: "interrupted by a restart", end_time: now.toISOString() });
      logger.warn({ build_id: id }, "Marked interrupted Build as failed");
    }
  }

  function emit(build: LiveBuild, text: string): void {
    for (const part of text.split("\n")) {
      const line = { time: new Date(), text: part.replace(/\r/g, "") };
      build.lines.push(line);
      build.writer.push(line);
    }
    const { resolve } = build.changed;
    build.changed = deferred();
    resolve();
  }

  async function finish(build: LiveBuild, result: Partial<BuildResult> & Pick<BuildResult, "status" | "message">) {
    const { record } = build;
    Object.assign(record, {
      status: result.status,
      message: result.message,
      defects: result.defects ?? record.defects,
      commit_sha: result.commitSha ?? record.commit_sha,
      bundle_digest: result.bundleDigest ?? "",
      bundle_signature: result.bundleSignature ?? "",
      graph_ids: result.graphIds ?? record.graph_ids,
      egress: result.egress ?? record.egress ?? [],
      sbom_components: result.sbomComponents ?? 0,
      end_time: new Date().toISOString(),
    } satisfies Partial<BuildRecord>);
    emit(build, result.status === "SUCCEEDED" ? "build succeeded" : `build ${result.status.toLowerCase()}: ${result.message}`);
    try {
      await build.writer.flush();
      await store.write(record);
      await rm(store.tarballOf(record.build_id), { force: true });
    } catch (err) {
      logger.error({ err, build_id: record.build_id }, "Failed to save Build");
    }
    build.live = false;
    builds.delete(record.build_id);
    const { resolve } = build.changed;
    build.lines = [];
    resolve();
    build.done.resolve();
    logger.info(
      { build_id: record.build_id, status: record.status, bundle: record.bundle_digest || undefined },
      "Finished Build",
    );
  }

  function pump(): void {
    while (!closing && running < concurrency && queue.length > 0) {
      const build = queue.shift() as LiveBuild;
      running++;
      execute(build)
        .catch((err: unknown) => {
          logger.error({ err, build_id: build.record.build_id }, "Failed Build unexpectedly");
          return finish(build, { status: "FAILED", message: "the build failed: internal error" });
        })
        .finally(() => {
          running--;
          pump();
        });
    }
  }

  async function execute(build: LiveBuild): Promise<void> {
    const { record } = build;
    const spec = build.spec as NonNullable<LiveBuild["spec"]>;
    build.abort = new AbortController();
    record.status = "RUNNING";
    await store.write(record);
    logger.info({ build_id: record.build_id }, "Started Build");
    emit(build, "build started");
    const source: BuildSource = "tarballFile" in spec.source ? { tarball: await readFile(spec.source.tarballFile) } : spec.source;
    build.spec = undefined;
    const result = await runBuild(
      { source, configPath: spec.configPath },
      {
        bundleDir: options.bundleDir,
        signingKey: options.signingKey,
        log: (line) => emit(build, line),
        workRoot,
        allowFileUrls: options.allowFileUrls ?? false,
        npmCache: options.npmCache,
        ...(options.user && { user: options.user }),
        signal: build.abort.signal,
        timeoutMs: options.timeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS,
      },
    );
    if (build.stoppedBy !== undefined && result.status === "CANCELLED")
      await finish(build, { ...result, status: "FAILED", message: build.stoppedBy });
    else await finish(build, result);
  }

  async function recordOf(buildId: string): Promise<BuildRecord> {
    const record = builds.get(buildId)?.record ?? (await store.read(buildId));
    if (!record) throw notFound("build", buildId);
    return record;
  }

  function checkId(buildId: string): void {
    if (!BUILD_ID.test(buildId))
      throw invalidArgument("build_id must be 1 to 64 letters, digits, '_' or '-'", [
        { field: "build_id", description: "1 to 64 of [A-Za-z0-9_-]" },
      ]);
  }

  function sourceOf(req: StartBuildRequest): BuildRecord["source"] {
    switch (req.source.case) {
      case "git":
        return { git: { url: redactUrl(req.source.value.url), ref: req.source.value.ref } };
      case "tarball":
        if (req.source.value.byteLength > MAX_TARBALL_BYTES)
          throw invalidArgument(`the tarball has more than ${MAX_TARBALL_BYTES} bytes`, [
            { field: "tarball", description: `at most ${MAX_TARBALL_BYTES} bytes (64 MiB)` },
          ]);
        return { tarball: { size: req.source.value.byteLength } };
      default:
        throw invalidArgument("a source is required: git or tarball", [{ field: "source", description: "git or tarball" }]);
    }
  }

  async function* followLog(build: LiveBuild, follow: boolean, ctx: HandlerContext): AsyncGenerator<StreamBuildLogResponse> {
    const lines = build.lines;
    let next = 0;
    const stopped = new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
    for (;;) {
      while (next < lines.length) yield lineMessage(lines[next++] as StoredLine);
      if (!build.live || !follow || ctx.signal.aborted) return;
      await Promise.race([build.changed.promise, stopped]);
    }
  }

  const impl: ServiceImpl<typeof BuilderService> = {
    async startBuild(req) {
      await ready;
      if (closing) throw new ConnectError("the builder is stopping", Code.Unavailable);
      checkId(req.buildId);
      const source = sourceOf(req);
      if (builds.has(req.buildId) || !(await store.claim(req.buildId))) throw alreadyExists("build", req.buildId);
      const record: BuildRecord = {
        build_id: req.buildId,
        status: "QUEUED",
        message: "",
        defects: [],
        commit_sha: "",
        bundle_digest: "",
        bundle_signature: "",
        graph_ids: [],
        egress: [],
        sbom_components: 0,
        create_time: new Date().toISOString(),
        source,
        config_path: req.configPath,
      };
      const build: LiveBuild = {
        record,
        lines: [],
        writer: new LogWriter(store, req.buildId),
        changed: deferred(),
        live: true,
        done: deferred(),
      };
      builds.set(req.buildId, build);
      try {
        if (req.source.case === "tarball") {
          const tarballFile = store.tarballOf(req.buildId);
          await writeFile(tarballFile, req.source.value);
          build.spec = { source: { tarballFile }, configPath: req.configPath };
        } else if (req.source.case === "git") {
          build.spec = { source: { git: { url: req.source.value.url, ref: req.source.value.ref } }, configPath: req.configPath };
        }
        await store.write(record);
      } catch (err) {
        builds.delete(req.buildId);
        await store.release(req.buildId).catch(() => {});
        throw err;
      }
      const what = "git" in source ? `${source.git.url}${source.git.ref ? ` at ${source.git.ref}` : ""}` : "an uploaded tarball";
      emit(build, `build ${req.buildId} queued: ${what}`);
      logger.info({ build_id: req.buildId }, "Queued Build");
      queue.push(build);
      pump();
      return { build: toBuildMessage(record) };
    },

    async getBuild(req) {
      await ready;
      checkId(req.buildId);
      return { build: toBuildMessage(await recordOf(req.buildId)) };
    },

    async cancelBuild(req) {
      await ready;
      checkId(req.buildId);
      const build = builds.get(req.buildId);
      if (!build) return { build: toBuildMessage(await recordOf(req.buildId)) };
      const queued = queue.indexOf(build);
      if (queued >= 0) {
        queue.splice(queued, 1);
        await finish(build, { status: "CANCELLED", message: "the build was cancelled" });
      } else {
        build.abort?.abort();
        await build.done.promise;
      }
      return { build: toBuildMessage(build.record) };
    },

    async *streamBuildLog(req, ctx) {
      await ready;
      checkId(req.buildId);
      const build = builds.get(req.buildId);
      if (build) {
        yield* followLog(build, req.follow, ctx);
        return;
      }
      if (!(await store.read(req.buildId))) throw notFound("build", req.buildId);
      for (const line of await store.readLines(req.buildId)) yield lineMessage(line);
    },
  };

  return {
    impl,
    register(router) {
      router.service(BuilderService, impl);
    },
    async close() {
      closing = true;
      await ready.catch(() => {});
      const waiting = queue.splice(0);
      for (const build of waiting)
        await finish(build, { status: "FAILED", message: "the builder stopped before the build started" });
      const active = [...builds.values()];
      for (const build of active) {
        build.stoppedBy = "the builder stopped during the build";
        build.abort?.abort();
      }
      await Promise.all(active.map((b) => b.done.promise));
    },
  };
}
