import { type Static, Type } from "typebox";
import { JsonObject, Limit, Nullable, Offset, SortOrder, StringEnum, Uuid } from "./common.js";
import { MultitaskStrategy, RunCreateBody } from "./runs.js";

/** The fields of a Cron object `select` may name; `now` is in the JS SDK's type and selects nothing. */
export const CRON_FIELDS = [
  "cron_id",
  "assistant_id",
  "thread_id",
  "on_run_completed",
  "end_time",
  "schedule",
  "timezone",
  "created_at",
  "updated_at",
  "user_id",
  "payload",
  "next_run_date",
  "metadata",
  "enabled",
  "now",
] as const;

/** What a Cron shows when no `select` is given (timezone and on_run_completed only on request). */
export const CRON_DEFAULT_FIELDS = [
  "cron_id",
  "assistant_id",
  "thread_id",
  "end_time",
  "schedule",
  "created_at",
  "updated_at",
  "user_id",
  "payload",
  "next_run_date",
  "metadata",
  "enabled",
] as const;

export const CronSortBy = StringEnum([
  "cron_id",
  "assistant_id",
  "thread_id",
  "next_run_date",
  "end_time",
  "created_at",
  "updated_at",
] as const);

export const OnRunCompleted = StringEnum(["delete", "keep"] as const);

/** ISO-8601 with an offset, or without one (then UTC), as Python's isoformat() may send it. */
export const DateTime = () =>
  Type.Union(
    [
      Type.String({ format: "date-time" }),
      Type.String({ pattern: "^\\d{4}-\\d{2}-\\d{2}[Tt ]\\d{2}:\\d{2}(?::\\d{2}(?:\\.\\d{1,9})?)?$" }),
    ],
    { errorMessage: "must be an ISO-8601 date-time such as 2030-01-31T12:00:00Z" },
  );

/**
 * The run fields of a cron body, shared with the run-create body (same schemas, same mapping
 * to the payload RunSpec). `checkpoint_during` is accepted as an unknown key and ignored.
 */
const runFields = {
  assistant_id: RunCreateBody.properties.assistant_id,
  input: RunCreateBody.properties.input,
  config: RunCreateBody.properties.config,
  context: RunCreateBody.properties.context,
  metadata: RunCreateBody.properties.metadata,
  stream_mode: RunCreateBody.properties.stream_mode,
  stream_subgraphs: RunCreateBody.properties.stream_subgraphs,
  stream_resumable: RunCreateBody.properties.stream_resumable,
  interrupt_before: RunCreateBody.properties.interrupt_before,
  interrupt_after: RunCreateBody.properties.interrupt_after,
  webhook: RunCreateBody.properties.webhook,
  durability: RunCreateBody.properties.durability,
};

const scheduleFields = {
  schedule: Type.String({ minLength: 1, errorMessage: "must be a cron expression such as '*/5 * * * *'" }),
  // Null means UTC, like an absent value.
  timezone: Type.Optional(Nullable(Type.String({ minLength: 1 }), "must be an IANA time zone name or null")),
  end_time: Type.Optional(DateTime()),
  enabled: Type.Optional(Type.Boolean()),
};

/**
 * POST /runs/crons (upstream CronCreate) and POST /threads/{thread_id}/runs/crons (upstream
 * ThreadCronCreate) in one, as the JS SDK sends both sets of keys to both: `on_run_completed`
 * applies to stateless crons, `multitask_strategy` to thread crons.
 */
export const CronCreateBody = Type.Object({
  ...runFields,
  ...scheduleFields,
  on_run_completed: Type.Optional(OnRunCompleted),
  multitask_strategy: Type.Optional(MultitaskStrategy),
});
export type CronCreateBody = Static<typeof CronCreateBody>;

/** PATCH /runs/crons/{cron_id} (upstream CronPatch): all optional; `end_time: null` clears it. */
export const CronPatchBody = Type.Object({
  schedule: Type.Optional(scheduleFields.schedule),
  timezone: scheduleFields.timezone,
  end_time: Type.Optional(Nullable(DateTime(), "must be an ISO-8601 date-time or null")),
  enabled: scheduleFields.enabled,
  input: runFields.input,
  config: runFields.config,
  context: runFields.context,
  metadata: runFields.metadata,
  stream_mode: runFields.stream_mode,
  stream_subgraphs: runFields.stream_subgraphs,
  stream_resumable: runFields.stream_resumable,
  interrupt_before: runFields.interrupt_before,
  interrupt_after: runFields.interrupt_after,
  webhook: runFields.webhook,
  durability: runFields.durability,
  on_run_completed: Type.Optional(OnRunCompleted),
});
export type CronPatchBody = Static<typeof CronPatchBody>;

/** An assistant filter: an assistant id or a graph id. */
const AssistantFilter = () => Type.String({ minLength: 1, errorMessage: "must be an assistant id or a graph id" });

/** POST /runs/crons/search (upstream CronSearch). */
export const CronSearchBody = Type.Object({
  assistant_id: Type.Optional(AssistantFilter()),
  thread_id: Type.Optional(Uuid()),
  enabled: Type.Optional(Type.Boolean()),
  metadata: Type.Optional(JsonObject()),
  limit: Type.Optional(Limit()),
  offset: Type.Optional(Offset()),
  sort_by: Type.Optional(CronSortBy),
  sort_order: Type.Optional(SortOrder),
  select: Type.Optional(Type.Array(StringEnum(CRON_FIELDS))),
});
export type CronSearchBody = Static<typeof CronSearchBody>;

/** POST /runs/crons/count (upstream CronCountRequest). */
export const CronCountBody = Type.Object({
  assistant_id: Type.Optional(AssistantFilter()),
  thread_id: Type.Optional(Uuid()),
  metadata: Type.Optional(JsonObject()),
});
export type CronCountBody = Static<typeof CronCountBody>;

export const CronIdParams = Type.Object({
  cron_id: Uuid(),
});
