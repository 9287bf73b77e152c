import { create, type DescField, isFieldSet, type JsonObject } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { invalidArgument, jsonBytes, notFound } from "@langopen/common";
import {
  type AssistantStore,
  type CronChanges,
  type CronFilter,
  type CronRow,
  type CronStore,
  checkSchedule,
  decodeSpec,
  encodeSpec,
  isUuid,
  MULTITASK_FROM_PROTO,
  MULTITASK_TO_PROTO,
  newId,
  nextRunDate,
  type OnRunCompletedName,
  requireUuid,
  specToKwargs,
  type ThreadStore,
} from "@langopen/data-plane";
import { type Cron, CronSchema, OnRunCompleted } from "@langopen/gen/langopen/data/v1/cron_pb";
import type { CronService, UpdateCronRequest } from "@langopen/gen/langopen/data/v1/cron_service_pb";
import { type RunSpec, RunSpecSchema } from "@langopen/gen/langopen/data/v1/run_pb";
import { authOf, callerOf } from "../caller.js";
import { isDesc, page, sortKey } from "../domain/paging.js";
import { resolveAssistantId } from "./assistant-service.js";
import { ts, tsOrUndefined } from "./timestamps.js";

export interface CronServiceDeps {
  crons: CronStore;
  assistants: AssistantStore;
  threads: ThreadStore;
  graphIds: () => ReadonlySet<string>;
  /** The current time (tests may fix it). */
  now?: () => Date;
  /** Whether schedules may have a seconds field (6 fields); off: minute granularity only. */
  allowSeconds?: boolean;
}

const SORT_KEYS = ["cron_id", "assistant_id", "thread_id", "next_run_date", "end_time", "created_at", "updated_at"] as const;

const ON_RUN_COMPLETED_TO_PROTO: Record<OnRunCompletedName, OnRunCompleted> = {
  delete: OnRunCompleted.DELETE,
  keep: OnRunCompleted.KEEP,
};

/** A stateless cron's choice; delete unless asked to keep. */
const onRunCompletedName = (value: OnRunCompleted): OnRunCompletedName => (value === OnRunCompleted.KEEP ? "keep" : "delete");

/** The payload as the public API shows it: the run body, with its assistant and metadata. */
export function payloadJson(row: CronRow, spec: RunSpec): JsonObject {
  return { assistant_id: row.assistant_id, ...specToKwargs(spec), metadata: row.metadata };
}

export function toCron(row: CronRow): Cron {
  const spec = decodeSpec(row.payload);
  return create(CronSchema, {
    cronId: row.cron_id,
    assistantId: row.assistant_id,
    threadId: row.thread_id ?? "",
    endTime: tsOrUndefined(row.end_time),
    schedule: row.schedule,
    timezone: row.timezone ?? "",
    createTime: ts(row.created_at),
    updateTime: ts(row.updated_at),
    userId: row.user_id ?? "",
    payload: spec,
    nextRunTime: tsOrUndefined(row.next_run_date),
    metadata: row.metadata,
    enabled: row.enabled,
    onRunCompleted: row.on_run_completed ? ON_RUN_COMPLETED_TO_PROTO[row.on_run_completed] : OnRunCompleted.UNSPECIFIED,
    multitaskStrategy: MULTITASK_TO_PROTO[row.multitask_strategy],
    payloadJson: jsonBytes(payloadJson(row, spec)),
  });
}

function checkPayload(spec: RunSpec): void {
  if (spec.inputJson.length > 0 && spec.commandJson.length > 0) {
    throw invalidArgument("input and command are mutually exclusive", [
      { field: "payload.command", description: "given with input" },
    ]);
  }
}

/** The RunSpec fields an update may replace (everything but the assistant, which stays). */
const PATCHABLE = RunSpecSchema.fields.filter((f) => f.name !== "assistant_id");

/** The stored payload with the fields of the patch named by the mask (or set in it) replaced. */
function patchPayload(current: RunSpec, patch: RunSpec, paths: string[]): RunSpec {
  let fields: DescField[];
  if (paths.length === 0) {
    fields = PATCHABLE.filter((f) => isFieldSet(patch, f));
  } else {
    fields = paths.map((path) => {
      const field = PATCHABLE.find((f) => f.name === path);
      if (!field) {
        throw invalidArgument(`payload_mask names an unknown payload field ${JSON.stringify(path)}`, [
          { field: "payload_mask", description: "unknown field" },
        ]);
      }
      return field;
    });
  }
  const next = create(RunSpecSchema, current) as unknown as Record<string, unknown>;
  const source = patch as unknown as Record<string, unknown>;
  for (const field of fields) next[field.localName] = source[field.localName];
  return next as unknown as RunSpec;
}

export function createCronServiceImpl(deps: CronServiceDeps): ServiceImpl<typeof CronService> {
  const { crons } = deps;
  const now = deps.now ?? (() => new Date());

  /** The cron, if the caller may read it: one their auth filter does not match is NOT_FOUND, as if absent. */
  const mustGet = async (cronId: string, ctx: HandlerContext) => {
    const row = await crons.get(cronId, authOf(ctx));
    if (!row) throw notFound("Cron", cronId);
    return row;
  };

  /** The assistant filter of a search: an id, a graph id, or nothing that can match (undefined + false). */
  const assistantFilter = (value: string): { id?: string; matchable: boolean } => {
    if (value === "") return { matchable: true };
    if (isUuid(value)) return { id: value.toLowerCase(), matchable: true };
    if (deps.graphIds().has(value)) return { id: resolveAssistantId(value, deps.graphIds()), matchable: true };
    return { matchable: false };
  };

  const filterOf = (
    req: { assistantId: string; threadId: string; metadata?: JsonObject },
    ctx: HandlerContext,
  ): CronFilter | undefined => {
    const assistant = assistantFilter(req.assistantId);
    if (!assistant.matchable) return undefined;
    return {
      assistantId: assistant.id,
      threadId: req.threadId === "" ? undefined : requireUuid("thread_id", req.threadId),
      metadata: req.metadata,
      auth: authOf(ctx),
    };
  };

  const decideUpdate = (req: UpdateCronRequest, current: CronRow): CronChanges => {
    const changes: CronChanges = {};
    const scheduleChanged = req.schedule !== undefined || req.timezone !== undefined;
    // A schedule kept as it is was accepted when it was set: only a new one is held to today's rules.
    const schedule = checkSchedule(req.schedule ?? current.schedule, req.timezone ?? current.timezone ?? "", {
      allowSeconds: req.schedule === undefined || deps.allowSeconds,
    });
    if (req.schedule !== undefined) changes.schedule = schedule.expression;
    if (req.timezone !== undefined) changes.timezone = req.timezone === "" ? null : schedule.timezone;
    let endTime = current.end_time;
    if (req.clearEndTime) endTime = null;
    else if (req.endTime !== undefined) endTime = timestampDate(req.endTime);
    const endChanged = req.clearEndTime || req.endTime !== undefined;
    if (endChanged) changes.endTime = endTime;
    if (req.enabled !== undefined) changes.enabled = req.enabled;
    // The schedule starts over from now when what decides it changed (or the cron is re-enabled).
    const reenabled = req.enabled === true && !current.enabled;
    if (scheduleChanged || endChanged || reenabled) changes.nextRunDate = nextRunDate(schedule, now(), endTime);
    if (req.payload !== undefined) {
      const payload = patchPayload(decodeSpec(current.payload), req.payload, req.payloadMask?.paths ?? []);
      checkPayload(payload);
      changes.payload = encodeSpec(payload);
    }
    if (req.onRunCompleted !== undefined && current.thread_id === null) {
      changes.onRunCompleted = onRunCompletedName(req.onRunCompleted);
    }
    if (req.metadata !== undefined) changes.metadata = req.metadata;
    return changes;
  };

  return {
    async createCron(req, ctx) {
      const payload = req.payload;
      if (!payload) throw invalidArgument("payload is required", [{ field: "payload", description: "required" }]);
      checkPayload(payload);
      const schedule = checkSchedule(req.schedule, req.timezone, { allowSeconds: deps.allowSeconds });
      const assistantId = resolveAssistantId(payload.assistantId, deps.graphIds());
      if (!(await deps.assistants.get(assistantId))) throw notFound("Assistant", payload.assistantId);
      const threadId = req.threadId === "" ? null : requireUuid("thread_id", req.threadId);
      // The cron's runs will act on the thread: a caller may schedule them only on a thread their filter matches.
      if (threadId !== null && !(await deps.threads.get(threadId, authOf(ctx)))) throw notFound("Thread", threadId);
      const caller = callerOf(ctx);
      const endTime = req.endTime ? timestampDate(req.endTime) : null;
      const metadata = req.metadata ?? payload.metadata ?? {};
      const row = await crons.create({
        cronId: newId(),
        assistantId,
        threadId,
        schedule: schedule.expression,
        timezone: req.timezone === "" ? null : schedule.timezone,
        endTime,
        enabled: req.enabled,
        payload: encodeSpec(create(RunSpecSchema, { ...payload, assistantId, metadata })),
        onRunCompleted: threadId === null ? onRunCompletedName(req.onRunCompleted) : null,
        multitask: threadId === null ? "enqueue" : MULTITASK_FROM_PROTO[req.multitaskStrategy],
        metadata,
        userId: caller?.identity ?? null,
        // Its runs act for its creator; the filter of this create is not theirs to keep.
        creator: caller ? { identity: caller.identity, permissions: caller.permissions, user: caller.user } : null,
        nextRunDate: nextRunDate(schedule, now(), endTime),
      });
      return { cron: toCron(row) };
    },

    async getCron(req, ctx) {
      return { cron: toCron(await mustGet(requireUuid("cron_id", req.cronId), ctx)) };
    },

    async updateCron(req, ctx) {
      const cronId = requireUuid("cron_id", req.cronId);
      const row = await crons.update(cronId, (current) => decideUpdate(req, current), authOf(ctx));
      if (!row) throw notFound("Cron", cronId);
      return { cron: toCron(row) };
    },

    async deleteCron(req, ctx) {
      const cronId = requireUuid("cron_id", req.cronId);
      if (!(await crons.delete(cronId, authOf(ctx)))) throw notFound("Cron", cronId);
      return {};
    },

    async searchCrons(req, ctx) {
      const { limit, offset } = page(req.limit, req.offset);
      const sortBy = sortKey(req.sortBy, SORT_KEYS, "created_at");
      const filter = filterOf(req, ctx);
      if (!filter) return { crons: [] };
      const rows = await crons.search(
        { ...filter, enabled: req.enabled },
        { limit, offset, sortBy, desc: isDesc(req.sortOrder) },
      );
      return { crons: rows.map(toCron) };
    },

    async countCrons(req, ctx) {
      const filter = filterOf(req, ctx);
      return { count: BigInt(filter ? await crons.count(filter) : 0) };
    },
  };
}
