import type { JsonObject as ProtoJsonObject } from "@bufbuild/protobuf";
import { type Static, Type } from "typebox";
import { JsonObject, Limit, Nullable, Offset, QueryBool, QueryList, StringEnum, Uuid } from "./common.js";

export const RUN_STATUSES = ["pending", "running", "error", "success", "timeout", "interrupted"] as const;
export const RunStatus = StringEnum(RUN_STATUSES);

export const MultitaskStrategy = StringEnum(["reject", "interrupt", "rollback", "enqueue"] as const);

export const CancelAction = StringEnum(["interrupt", "rollback"] as const);

/** The spec's stream modes, plus `tools` and `lifecycle`, which the JS SDK's type (and its React hook) sends. */
export const STREAM_MODES = [
  "values",
  "messages",
  "messages-tuple",
  "tasks",
  "checkpoints",
  "updates",
  "events",
  "debug",
  "custom",
  "tools",
  "lifecycle",
] as const;

const StreamModeName = () => Type.Enum([...STREAM_MODES]);

export const StreamMode = Type.Union([StreamModeName(), Type.Array(StreamModeName())], {
  errorMessage: `must be a stream mode or a list of them (${STREAM_MODES.map((m) => JSON.stringify(m)).join(", ")})`,
});

/** The fields of a Run object that `select` may name. */
export const RUN_FIELDS = [
  "run_id",
  "thread_id",
  "assistant_id",
  "created_at",
  "updated_at",
  "status",
  "metadata",
  "kwargs",
  "multitask_strategy",
  "langsmith_session_name",
  "cancel_reason",
] as const;

const NullableString = () => Nullable(Type.String(), "must be a string or null");

const checkpointFields = {
  thread_id: Type.Optional(NullableString()),
  checkpoint_ns: Type.Optional(NullableString()),
  checkpoint_id: Type.Optional(NullableString()),
  checkpoint_map: Type.Optional(Nullable(JsonObject(), "must be an object or null")),
};

/**
 * Upstream CheckpointConfig. The fields may be null: the SDKs send back checkpoints read from
 * the state, whose `checkpoint_map` is null.
 */
export const CheckpointConfig = Type.Object(checkpointFields, { errorMessage: "must be a checkpoint object" });
export type CheckpointConfig = Static<typeof CheckpointConfig>;

/**
 * Where history starts before: a checkpoint id (Python SDK), a CheckpointConfig (spec) or a
 * RunnableConfig `{configurable: {...}}` (JS SDK type).
 */
export const CheckpointSelector = Type.Union(
  [Type.String(), Type.Object({ ...checkpointFields, configurable: Type.Optional(CheckpointConfig) }), Type.Null()],
  { errorMessage: "must be a checkpoint id, a checkpoint object or a config with configurable" },
);
export type CheckpointSelector = Static<typeof CheckpointSelector>;

/** Upstream Send: a node to run with its input. */
export const Send = Type.Object({ node: Type.String(), input: Type.Optional(Type.Unknown()) });

/** Upstream Command: resume pending interrupts, update the state, go to nodes. */
export const Command = Type.Object({
  update: Type.Optional(
    Type.Union([JsonObject(), Type.Array(Type.Unknown()), Type.Null()], { errorMessage: "must be an object, a list or null" }),
  ),
  resume: Type.Optional(Type.Unknown()),
  goto: Type.Optional(
    Type.Union([Send, Type.String(), Type.Array(Type.Union([Send, Type.String()])), Type.Null()], {
      errorMessage: "must be a node name, a Send {node, input}, a list of them, or null",
    }),
  ),
});

/** A RunnableConfig: `{tags, recursion_limit, configurable, ...}`. */
export const RunConfig = () =>
  Type.Unsafe<ProtoJsonObject>(
    Type.Object(
      {
        tags: Type.Optional(Type.Array(Type.String())),
        recursion_limit: Type.Optional(Type.Integer({ minimum: 1, errorMessage: "must be an integer >= 1" })),
        configurable: Type.Optional(JsonObject()),
      },
      { errorMessage: "must be a JSON object" },
    ),
  );

/** The RunnableConfig of a run (upstream Config). */
export const Config = RunConfig();

const NodeList = () =>
  Type.Union([Type.Literal("*"), Type.Array(Type.String())], { errorMessage: `must be "*" or a list of node names` });

/**
 * Every run-create body: upstream RunCreateStateful, RunCreateStateless and their streaming
 * variants in one. The SDKs send stateful keys on stateless calls and the other way round
 * (`on_completion`, `on_disconnect`), so each endpoint accepts them all; the api-server ignores
 * what does not apply. `langsmith_tracer` and `strict_resume` are accepted as unknown keys and
 * ignored.
 */
export const RunCreateBody = Type.Object({
  assistant_id: Type.String({ minLength: 1, errorMessage: "must be an assistant id or a graph id" }),
  input: Type.Optional(Type.Unknown()),
  command: Type.Optional(Nullable(Command, "must be a command object or null")),
  config: Type.Optional(Config),
  context: Type.Optional(JsonObject()),
  metadata: Type.Optional(JsonObject()),
  stream_mode: Type.Optional(StreamMode),
  stream_subgraphs: Type.Optional(Type.Boolean()),
  stream_resumable: Type.Optional(Type.Boolean()),
  interrupt_before: Type.Optional(NodeList()),
  interrupt_after: Type.Optional(NodeList()),
  checkpoint: Type.Optional(Nullable(CheckpointConfig, "must be a checkpoint object or null")),
  checkpoint_id: Type.Optional(NullableString()),
  webhook: Type.Optional(
    Type.String({ minLength: 1, maxLength: 65536, format: "uri-reference", errorMessage: "must be a URL or a path" }),
  ),
  durability: Type.Optional(StringEnum(["sync", "async", "exit"] as const)),
  /** Deprecated ancestor of durability: false means "exit", true "async". */
  checkpoint_during: Type.Optional(Type.Boolean()),
  feedback_keys: Type.Optional(Type.Array(Type.String())),
  multitask_strategy: Type.Optional(MultitaskStrategy),
  if_not_exists: Type.Optional(StringEnum(["create", "reject"] as const)),
  on_completion: Type.Optional(StringEnum(["delete", "keep"] as const)),
  on_disconnect: Type.Optional(StringEnum(["cancel", "continue"] as const)),
  after_seconds: Type.Optional(Type.Number({ minimum: 0, errorMessage: "must be a number of seconds >= 0" })),
});
export type RunCreateBody = Static<typeof RunCreateBody>;

/** POST /runs/batch (upstream RunBatchCreate): at least one stateless run. */
export const RunBatchBody = Type.Array(RunCreateBody, { minItems: 1 });
export type RunBatchBody = Static<typeof RunBatchBody>;

/** POST /runs/cancel (upstream RunsCancel): `{status}` or `{thread_id, run_ids}`. */
export const RunsCancelBody = Type.Object({
  status: Type.Optional(StringEnum(["pending", "running", "all"] as const)),
  thread_id: Type.Optional(Uuid()),
  run_ids: Type.Optional(Type.Array(Uuid())),
});
export type RunsCancelBody = Static<typeof RunsCancelBody>;

export const RunIdParams = Type.Object({
  thread_id: Uuid(),
  run_id: Uuid(),
});

export const StatelessRunIdParams = Type.Object({
  run_id: Uuid(),
});

/** GET /threads/{thread_id}/runs. */
export const RunListQuery = Type.Object({
  limit: Type.Optional(Limit()),
  offset: Type.Optional(Offset()),
  status: Type.Optional(RunStatus),
  select: Type.Optional(QueryList()),
});

/** GET .../join. */
export const RunJoinQuery = Type.Object({
  cancel_on_disconnect: Type.Optional(QueryBool()),
});

/** GET .../stream: `namespace` and `checkpoint_id` are accepted and ignored. */
export const RunStreamQuery = Type.Object({
  cancel_on_disconnect: Type.Optional(QueryBool()),
  stream_mode: Type.Optional(QueryList()),
  namespace: Type.Optional(QueryList()),
});

/** POST .../cancel: the JS SDK also sends `reason`. */
export const RunCancelQuery = Type.Object({
  wait: Type.Optional(QueryBool()),
  action: Type.Optional(CancelAction),
  reason: Type.Optional(Type.String()),
});

/** POST /runs/cancel. */
export const RunsCancelQuery = Type.Object({
  action: Type.Optional(CancelAction),
});
