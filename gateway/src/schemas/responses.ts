import { type TSchema, Type } from "typebox";
import { CheckpointConfig, Config, RUN_STATUSES } from "./runs.js";
import { WEBHOOK_STATUSES } from "./webhooks.js";

/*
 * The objects the API answers with, as the API description shows them (the upstream component
 * names where the object is the same). Answers are built by the mappers, not checked against
 * these: the mapper tests check that what they build satisfies them.
 */

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** ISO-8601 with an explicit offset, as every timestamp of the API is written. */
const Timestamp = (description: string) => Type.String({ format: "date-time", description });

const AnyObject = (description: string) => Type.Record(Type.String(), Type.Unknown(), { description });

const Count = (description: string) => Type.Integer({ minimum: 0, description });

/** Upstream Assistant. */
export const Assistant = Type.Object(
  {
    assistant_id: Type.String({ format: "uuid", description: "The ID of the assistant." }),
    graph_id: Type.String({ description: "The ID of the graph." }),
    config: Config,
    context: AnyObject("Static context added to the assistant."),
    created_at: Timestamp("The time the assistant was created."),
    updated_at: Timestamp("The last time the assistant was updated."),
    metadata: AnyObject("The assistant metadata."),
    version: Type.Integer({ minimum: 1, description: "The version of the assistant." }),
    name: Type.String({ description: "The name of the assistant." }),
    description: Nullable(Type.String({ description: "The description of the assistant." })),
  },
  { description: "An assistant: a graph with its configuration, at its current version." },
);

/** One entry of POST /assistants/{assistant_id}/versions: the assistant as it was at that version. */
export const AssistantVersion = Type.Object(
  {
    assistant_id: Assistant.properties.assistant_id,
    graph_id: Assistant.properties.graph_id,
    config: Config,
    context: Assistant.properties.context,
    created_at: Timestamp("The time this version was made."),
    metadata: Assistant.properties.metadata,
    version: Assistant.properties.version,
    name: Assistant.properties.name,
    description: Assistant.properties.description,
  },
  { description: "An assistant as it was at one of its versions." },
);

/** Upstream GraphSchemaNoId: JSON schemas of a graph, where they can be made. */
export const GraphSchemaNoId = Type.Object(
  {
    input_schema: Type.Optional(AnyObject("The schema of the graph's input.")),
    output_schema: Type.Optional(AnyObject("The schema of the graph's output.")),
    state_schema: AnyObject("The schema of the graph's state."),
    config_schema: Type.Optional(AnyObject("The schema of the graph's config.")),
    context_schema: Type.Optional(AnyObject("The schema of the graph's context.")),
  },
  { description: "The JSON schemas of a graph; a schema that cannot be made is missing." },
);

/** Upstream GraphSchema: GET /assistants/{assistant_id}/schemas. */
export const GraphSchema = Type.Object(
  { graph_id: Type.String({ description: "The ID of the graph." }), ...GraphSchemaNoId.properties },
  { description: "The JSON schemas of an assistant's graph." },
);

/** Upstream Subgraphs: GET /assistants/{assistant_id}/subgraphs[/{namespace}]. */
export const Subgraphs = Type.Record(Type.String(), GraphSchemaNoId, {
  description: "The schemas of the subgraphs, by namespace.",
});

export const ThreadTtl = Type.Object(
  {
    strategy: Type.Enum(["delete", "keep_latest"], { description: "What happens when it expires." }),
    ttl_minutes: Type.Number({ description: "The time to live, in minutes." }),
    expires_at: Nullable(Timestamp("When the thread expires.")),
  },
  { description: "The thread's time to live; only with `?include=ttl`." },
);

/** Upstream Thread. */
export const Thread = Type.Object(
  {
    thread_id: Type.String({ format: "uuid", description: "The ID of the thread." }),
    created_at: Timestamp("The time the thread was created."),
    updated_at: Timestamp("The last time the thread was updated."),
    state_updated_at: Timestamp("The last time the thread's state was updated."),
    metadata: AnyObject("The thread metadata."),
    config: AnyObject("The thread config."),
    status: Type.Enum(["idle", "busy", "interrupted", "error"], { description: "The status of the thread." }),
    values: Type.Unknown({ description: "The current state values of the thread (null before its first run)." }),
    interrupts: AnyObject("The interrupts waiting on the thread, by task id."),
    ttl: Type.Optional(ThreadTtl),
    extracted: Type.Optional(AnyObject("The values a search with `extract` asked for.")),
  },
  { description: "A thread: a conversation that keeps its state between runs." },
);

const Usage = (description: string) => Type.Object({ count: Count("Rows."), bytes: Count("Bytes.") }, { description });

/** Upstream ThreadStorage: GET /threads/{thread_id}/storage. */
export const ThreadStorage = Type.Object(
  {
    thread_id: Type.String({ format: "uuid" }),
    total_bytes: Count("Sum of the three sections below."),
    checkpoints: Usage("Checkpoint rows: serialized checkpoint plus metadata."),
    channel_values: Type.Object(
      {
        count: Count("Rows."),
        bytes: Count("Bytes."),
        by_channel: Type.Record(Type.String(), Type.Object({ versions: Count("Versions."), bytes: Count("Bytes.") })),
      },
      { description: "Stored channel values, one row per channel version." },
    ),
    pending_writes: Usage("Task writes not yet folded into a checkpoint."),
  },
  { description: "The bytes a thread occupies in the checkpointer, as stored." },
);

/** Upstream ThreadPruneResponse. */
export const ThreadPruneResponse = Type.Object(
  { pruned_count: Count("The number of threads pruned.") },
  { description: "The answer of POST /threads/prune." },
);

/** Upstream Interrupt. */
export const Interrupt = Type.Object(
  {
    id: Type.Optional(Type.String({ description: "The interrupt's id; resume it by this id." })),
    value: Type.Unknown({ description: "The value the graph interrupted with." }),
  },
  { description: "An interrupt waiting for a resume." },
);

const ThreadTask = Type.Object({
  id: Type.String({ description: "The task id." }),
  name: Type.String({ description: "The node the task runs." }),
  error: Nullable(Type.String({ description: "The task's error, if it failed." })),
  interrupts: Type.Array(Interrupt),
  checkpoint: Nullable(CheckpointConfig),
  state: Type.Unknown({ description: "The subgraph's state (a ThreadState) with `subgraphs=true`, else null." }),
  result: Type.Optional(Type.Unknown({ description: "What the task wrote, once it finished." })),
});

/** Upstream ThreadState. */
export const ThreadState = Type.Object(
  {
    values: Type.Unknown({ description: "The state's values." }),
    next: Type.Array(Type.String(), { description: "The nodes to run next." }),
    tasks: Type.Array(ThreadTask, { description: "The tasks of the next step." }),
    checkpoint: Nullable(CheckpointConfig),
    metadata: Nullable(AnyObject("The checkpoint's metadata.")),
    created_at: Nullable(Timestamp("The time the checkpoint was written.")),
    parent_checkpoint: Nullable(CheckpointConfig),
    interrupts: Type.Array(Interrupt, { description: "The interrupts of the tasks." }),
  },
  { description: "A thread's state at one checkpoint." },
);

/** Upstream ThreadStateUpdateResponse: POST /threads/{thread_id}/state. */
export const ThreadStateUpdateResponse = Type.Object(
  { checkpoint: CheckpointConfig },
  { description: "The checkpoint the update wrote." },
);

/** Upstream Run. */
export const Run = Type.Object(
  {
    run_id: Type.String({ format: "uuid", description: "The ID of the run." }),
    thread_id: Nullable(
      Type.String({ format: "uuid", description: "The ID of the thread; null for a stateless run whose thread is gone." }),
    ),
    assistant_id: Type.String({ description: "The assistant that was used for this run." }),
    created_at: Timestamp("The time the run was created."),
    updated_at: Timestamp("The last time the run was updated."),
    status: Type.Enum([...RUN_STATUSES], { description: "The status of the run." }),
    metadata: AnyObject("The run metadata."),
    kwargs: AnyObject("The run's create body: input, command, config, context, stream_mode, ..."),
    multitask_strategy: Type.Enum(["reject", "interrupt", "rollback", "enqueue"], {
      description: "What happens to a run created while another is active on the thread.",
    }),
  },
  { description: "A run of an assistant, on a thread or stateless." },
);

/** Upstream Cron. */
export const Cron = Type.Object(
  {
    cron_id: Type.String({ format: "uuid", description: "The ID of the cron." }),
    assistant_id: Type.String({ description: "The assistant the cron runs." }),
    thread_id: Nullable(Type.String({ format: "uuid", description: "The thread of its runs; null for a stateless cron." })),
    end_time: Nullable(Timestamp("When the cron stops.")),
    schedule: Type.String({ description: "The schedule, in cron format." }),
    created_at: Timestamp("The time the cron was created."),
    updated_at: Timestamp("The last time the cron was updated."),
    user_id: Nullable(Type.String({ description: "The ID of the user." })),
    payload: AnyObject("The run body each firing creates its run from."),
    next_run_date: Nullable(Timestamp("The next time it fires; null once it will not fire again.")),
    metadata: AnyObject("The cron metadata."),
    enabled: Type.Boolean({ description: "Whether the cron fires." }),
    timezone: Type.Optional(
      Nullable(Type.String({ description: "The IANA time zone of the schedule (UTC if null); on `select`." })),
    ),
    on_run_completed: Type.Optional(
      Nullable(Type.Enum(["delete", "keep"], { description: "What happens to a stateless run's thread; on `select`." })),
    ),
  },
  { description: "A run on a schedule. A search with `select` shows the selected fields only." },
);

/** Upstream Item. */
export const Item = Type.Object(
  {
    namespace: Type.Array(Type.String(), { description: "The namespace of the item." }),
    key: Type.String({ description: "The key of the item within its namespace." }),
    value: AnyObject("The value stored in the item."),
    created_at: Timestamp("The time the item was created."),
    updated_at: Timestamp("The last time the item was updated."),
    score: Type.Optional(Type.Number({ description: "The relevance of a semantic search result." })),
  },
  { description: "A document of the store, shared across threads." },
);

/** Upstream SearchItemsResponse. */
export const SearchItemsResponse = Type.Object({ items: Type.Array(Item) }, { description: "The items found." });

/** Upstream ListNamespaceResponse, as the SDKs read it: the namespaces in an object. */
export const ListNamespaceResponse = Type.Object(
  { namespaces: Type.Array(Type.Array(Type.String()), { description: "The namespaces, each a list of labels." }) },
  { description: "The namespaces found." },
);

/** One webhook delivery of a run: GET /runs/{run_id}/webhooks. */
export const WebhookDelivery = Type.Object(
  {
    delivery_id: Type.String({ description: "The delivery's id, the same on every attempt (X-Langopen-Delivery)." }),
    run_id: Type.String({ format: "uuid" }),
    url: Type.String({ description: "Where the webhook goes." }),
    status: Type.Enum([...WEBHOOK_STATUSES]),
    attempts: Count("Attempts made so far."),
    next_attempt_at: Nullable(Timestamp("When the next attempt is due; null once delivered or failed.")),
    last_error: Nullable(Type.String({ description: "Why the last attempt failed, or why the target was refused." })),
    last_status: Nullable(Type.Integer({ description: "The HTTP status of the last answer." })),
    created_at: Timestamp("The time the delivery was made."),
    delivered_at: Nullable(Timestamp("The time it was delivered.")),
  },
  { description: "A webhook delivery of a run." },
);

/** Upstream ErrorResponse: every error answer. */
export const ErrorResponse = Type.Object(
  { detail: Type.String({ description: "What went wrong, in a short English sentence." }) },
  { description: "An error answer." },
);
