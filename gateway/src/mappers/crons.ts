import { create, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { FieldMaskSchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Cron, OnRunCompleted } from "@langopen/gen/langopen/data/v1/cron_pb";
import {
  type CountCronsRequest,
  CountCronsRequestSchema,
  type CreateCronRequest,
  CreateCronRequestSchema,
  type SearchCronsRequest,
  SearchCronsRequestSchema,
  type UpdateCronRequest,
  UpdateCronRequestSchema,
} from "@langopen/gen/langopen/data/v1/cron_service_pb";
import { MultitaskStrategy } from "@langopen/gen/langopen/data/v1/run_pb";
import {
  CRON_DEFAULT_FIELDS,
  type CronCountBody,
  type CronCreateBody,
  type CronPatchBody,
  type CronSearchBody,
} from "../schemas/crons.js";
import { RequestValidationError } from "../validation.js";
import { isoTimestamp, jsonFromBytes, objectOrEmpty, selectFields, toSortOrder } from "./common.js";
import { toRunSpec } from "./runs.js";

/** The public Cron object, with the two fields shown only on request. */
export interface ApiCron {
  cron_id: string;
  assistant_id: string;
  /** Null for a stateless cron. */
  thread_id: string | null;
  end_time: string | null;
  schedule: string;
  created_at: string | null;
  updated_at: string | null;
  user_id: string | null;
  /** The run body each firing creates its run from. */
  payload: JsonValue;
  /** Null once the cron will not fire again. */
  next_run_date: string | null;
  metadata: JsonObject;
  enabled: boolean;
  timezone: string | null;
  on_run_completed: "delete" | "keep" | null;
}

const STRATEGY_VALUES: Record<"reject" | "interrupt" | "rollback" | "enqueue", MultitaskStrategy> = {
  reject: MultitaskStrategy.REJECT,
  interrupt: MultitaskStrategy.INTERRUPT,
  rollback: MultitaskStrategy.ROLLBACK,
  enqueue: MultitaskStrategy.ENQUEUE,
};

const toOnRunCompleted = (value: "delete" | "keep" | undefined): OnRunCompleted =>
  value === undefined ? OnRunCompleted.UNSPECIFIED : value === "keep" ? OnRunCompleted.KEEP : OnRunCompleted.DELETE;

/** An ISO-8601 date-time (without an offset: UTC) as a Timestamp. */
export function parseDateTime(value: string, field: string) {
  const withZone = /(?:[Zz]|[+-]\d{2}:?\d{2})$/.test(value) ? value : `${value}Z`;
  const date = new Date(withZone.replace(" ", "T"));
  if (Number.isNaN(date.getTime()))
    throw new RequestValidationError(`Invalid body: '${field}' must be an ISO-8601 date-time`, "body");
  return timestampFromDate(date);
}

/** A cron create: stateless when threadId is empty. The run fields map exactly as a run create's do. */
export function fromApiCronCreate(threadId: string, body: CronCreateBody): CreateCronRequest {
  return create(CreateCronRequestSchema, {
    threadId,
    schedule: body.schedule,
    timezone: body.timezone ?? "",
    endTime: body.end_time === undefined ? undefined : parseDateTime(body.end_time, "end_time"),
    enabled: body.enabled ?? true,
    payload: toRunSpec(body),
    onRunCompleted: toOnRunCompleted(body.on_run_completed),
    multitaskStrategy:
      body.multitask_strategy === undefined ? MultitaskStrategy.UNSPECIFIED : STRATEGY_VALUES[body.multitask_strategy],
    metadata: body.metadata,
  });
}

/** Patch keys that change the payload, with the RunSpec fields they set. */
const PAYLOAD_KEYS: ReadonlyArray<[keyof CronPatchBody, string]> = [
  ["input", "input_json"],
  ["config", "config"],
  ["context", "context"],
  ["stream_mode", "stream_modes"],
  ["stream_subgraphs", "stream_subgraphs"],
  ["stream_resumable", "stream_resumable"],
  ["interrupt_before", "interrupt_before"],
  ["interrupt_after", "interrupt_after"],
  ["webhook", "webhook"],
  ["durability", "durability"],
];

/** A cron patch: omitted fields stay; `end_time: null` clears the end time; metadata is merged. */
export function fromApiCronPatch(cronId: string, body: CronPatchBody): UpdateCronRequest {
  const paths = PAYLOAD_KEYS.filter(([key]) => body[key] !== undefined).map(([, path]) => path);
  return create(UpdateCronRequestSchema, {
    cronId,
    schedule: body.schedule,
    timezone: body.timezone === undefined ? undefined : (body.timezone ?? ""),
    endTime: body.end_time === undefined || body.end_time === null ? undefined : parseDateTime(body.end_time, "end_time"),
    clearEndTime: body.end_time === null,
    enabled: body.enabled,
    payload: paths.length > 0 ? toRunSpec({ ...body, assistant_id: "" }) : undefined,
    payloadMask: paths.length > 0 ? create(FieldMaskSchema, { paths }) : undefined,
    onRunCompleted: body.on_run_completed === undefined ? undefined : toOnRunCompleted(body.on_run_completed),
    metadata: body.metadata,
  });
}

export function fromApiCronSearch(body: CronSearchBody): SearchCronsRequest {
  return create(SearchCronsRequestSchema, {
    assistantId: body.assistant_id ?? "",
    threadId: body.thread_id ?? "",
    enabled: body.enabled,
    metadata: body.metadata,
    limit: body.limit ?? 10,
    offset: body.offset ?? 0,
    sortBy: body.sort_by ?? "",
    sortOrder: toSortOrder(body.sort_order),
  });
}

export function fromApiCronCount(body: CronCountBody): CountCronsRequest {
  return create(CountCronsRequestSchema, {
    assistantId: body.assistant_id ?? "",
    threadId: body.thread_id ?? "",
    metadata: body.metadata,
  });
}

/** Every public field of a cron. */
export function toApiCronFull(c: Cron): ApiCron {
  return {
    cron_id: c.cronId,
    assistant_id: c.assistantId,
    thread_id: c.threadId === "" ? null : c.threadId,
    end_time: isoTimestamp(c.endTime),
    schedule: c.schedule,
    created_at: isoTimestamp(c.createTime),
    updated_at: isoTimestamp(c.updateTime),
    user_id: c.userId === "" ? null : c.userId,
    payload: jsonFromBytes(c.payloadJson, {}),
    next_run_date: isoTimestamp(c.nextRunTime),
    metadata: objectOrEmpty(c.metadata),
    enabled: c.enabled,
    timezone: c.timezone === "" ? null : c.timezone,
    on_run_completed:
      c.onRunCompleted === OnRunCompleted.KEEP ? "keep" : c.onRunCompleted === OnRunCompleted.DELETE ? "delete" : null,
  };
}

/** The public Cron: the default fields, or those selected. */
export function toApiCron(c: Cron, select?: readonly string[]): Partial<ApiCron> {
  return selectFields(toApiCronFull(c), select && select.length > 0 ? select : CRON_DEFAULT_FIELDS);
}
