import { type TSchema, Type } from "typebox";
import {
  AssistantCountBody,
  AssistantCreateBody,
  AssistantLatestBody,
  AssistantPatchBody,
  AssistantSearchBody,
  AssistantVersionsBody,
} from "../schemas/assistants.js";
import { CronCountBody, CronCreateBody, CronPatchBody, CronSearchBody } from "../schemas/crons.js";
import { CommandBody, EventStreamBody, ProtocolChannel, ProtocolNamespace } from "../schemas/protocol-v2.js";
import {
  Assistant,
  AssistantVersion,
  Cron,
  ErrorResponse,
  GraphSchema,
  GraphSchemaNoId,
  Interrupt,
  Item,
  ListNamespaceResponse,
  Run,
  SearchItemsResponse,
  Subgraphs,
  Thread,
  ThreadPruneResponse,
  ThreadState,
  ThreadStateUpdateResponse,
  ThreadStorage,
  WebhookDelivery,
} from "../schemas/responses.js";
import { CheckpointConfig, Command, Config, RunBatchBody, RunCreateBody, RunsCancelBody, Send } from "../schemas/runs.js";
import { HistoryBody, StateCheckpointBody, StateUpdateBody } from "../schemas/state.js";
import { StoreDeleteBody, StoreNamespacesBody, StorePutBody, StoreSearchBody } from "../schemas/store.js";
import {
  SuperstepUpdate,
  ThreadCountBody,
  ThreadCreateBody,
  ThreadPatchBody,
  ThreadPruneBody,
  ThreadSearchBody,
} from "../schemas/threads.js";

/*
 * The named schemas of the API description (its `components.schemas`) and the answers of each
 * operation. A name is upstream's where our schema is the same thing; `RunCreate` (upstream's
 * four run-create bodies in one), `AssistantVersion` and `WebhookDelivery` are ours. Every part of
 * a route schema that is one of these schemas is described as a `$ref` to it.
 */

export const COMPONENTS = {
  // What the API answers with.
  Assistant,
  AssistantVersion,
  GraphSchema,
  GraphSchemaNoId,
  Subgraphs,
  Thread,
  ThreadStorage,
  ThreadPruneResponse,
  ThreadState,
  Interrupt,
  ThreadStateUpdateResponse,
  Run,
  Cron,
  Item,
  SearchItemsResponse,
  ListNamespaceResponse,
  WebhookDelivery,
  ErrorResponse,
  // What it takes.
  AssistantCreate: AssistantCreateBody,
  AssistantPatch: AssistantPatchBody,
  AssistantSearchRequest: AssistantSearchBody,
  AssistantCountRequest: AssistantCountBody,
  AssistantVersionsSearchRequest: AssistantVersionsBody,
  AssistantVersionChange: AssistantLatestBody,
  ThreadCreate: ThreadCreateBody,
  ThreadPatch: ThreadPatchBody,
  ThreadSearchRequest: ThreadSearchBody,
  ThreadCountRequest: ThreadCountBody,
  ThreadPruneRequest: ThreadPruneBody,
  ThreadSuperstepUpdate: SuperstepUpdate,
  ThreadStateUpdate: StateUpdateBody,
  ThreadStateCheckpointRequest: StateCheckpointBody,
  ThreadStateSearch: HistoryBody,
  CheckpointConfig,
  RunCreate: RunCreateBody,
  RunBatchCreate: RunBatchBody,
  RunsCancel: RunsCancelBody,
  Command,
  Send,
  Config,
  CronCreate: CronCreateBody,
  CronPatch: CronPatchBody,
  CronSearch: CronSearchBody,
  CronCountRequest: CronCountBody,
  StorePutRequest: StorePutBody,
  StoreDeleteRequest: StoreDeleteBody,
  StoreSearchRequest: StoreSearchBody,
  StoreListNamespacesRequest: StoreNamespacesBody,
  ProtocolEventStreamRequest: EventStreamBody,
  ProtocolCommand: CommandBody,
  ProtocolChannel,
  ProtocolNamespace,
} as const satisfies Record<string, TSchema>;

export type ComponentName = keyof typeof COMPONENTS;

/** A reference to a component, in the form of Fastify's shared schemas (`addSchema` with `$id`). */
export const ref = (name: ComponentName) => ({ $ref: `${name}#` });

const byIdentity = new Map<object, ComponentName>(
  Object.entries(COMPONENTS).map(([name, schema]) => [schema, name as ComponentName]),
);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null;

/**
 * The component a schema is: that very object, or a shallow copy of it (TypeBox's `Optional`
 * copies the schema's keywords and marks the copy), recognised by the same keywords with the very
 * same values, one of them a nested schema or list.
 */
export function componentOf(schema: unknown): ComponentName | undefined {
  if (!isObject(schema) || Array.isArray(schema)) return undefined;
  const same = byIdentity.get(schema);
  if (same !== undefined) return same;
  const keys = Object.keys(schema);
  for (const [component, name] of byIdentity) {
    const theirs = Object.keys(component);
    if (theirs.length !== keys.length) continue;
    const record = component as Record<string, unknown>;
    if (keys.every((k) => Object.hasOwn(record, k) && record[k] === schema[k]) && keys.some((k) => isObject(schema[k]))) {
      return name;
    }
  }
  return undefined;
}

/**
 * A plain copy of a schema in which every part that is a component is a reference to it; the
 * schema itself stays whole when it is the component `own`.
 */
export function withReferences(schema: unknown, own?: ComponentName): unknown {
  const copy = (node: unknown, root: boolean): unknown => {
    if (Array.isArray(node)) return node.map((item) => copy(item, false));
    if (!isObject(node)) return node;
    const name = componentOf(node);
    if (name !== undefined && !(root && name === own)) return ref(name);
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, copy(value, false)]));
  };
  return copy(schema, true);
}

/** The shared schemas that make the components: each with its name as `$id` and `title`. */
export function componentSchemas(): Array<Record<string, unknown>> {
  return Object.entries(COMPONENTS).map(([name, schema]) => ({
    ...(withReferences(schema, name as ComponentName) as Record<string, unknown>),
    $id: name,
    title: name,
  }));
}

// The answers of the operations, in the form of Fastify's response schemas (by status; a
// `description`, and a `content` for other media types than JSON).

/**
 * A JSON answer. @fastify/swagger takes the answer's description from `description`, but leaves
 * it in the schema too unless the schema is a reference; `x-response-description` it removes.
 */
const json = (description: string, schema: object = {}) =>
  "$ref" in schema ? { description, ...schema } : { "x-response-description": description, ...schema };
const listOf = (name: ComponentName, description: string) => json(description, { type: "array", items: ref(name) });
const noContent = (description: string) => ({ description, type: "null" });
const count = json("The number of matches.", Type.Integer({ minimum: 0 }));
const events = (description: string) => ({
  description,
  content: {
    "text/event-stream": {
      schema: {
        type: "string",
        description: "Server-sent events: `event:` names the stream mode, `data:` is JSON, `id:` resumes; `event: end` ends it.",
      },
    },
  },
});
const runOutput = json("The run's output: the final state values, or its error as `{__error__: {error, message}}`.");

/** Every error answer: `{"detail": "..."}`. */
const ERRORS = { "4XX": { description: "Refused: a bad request, a missing object, a conflict", ...ref("ErrorResponse") } };

const answers = (byStatus: Record<string, object>) => ({ ...byStatus, ...ERRORS });

/** The answers of each operation, by `METHOD url` in Fastify's form. */
export const RESPONSES: Readonly<Record<string, Record<string, object>>> = {
  "POST /assistants": answers({ 200: json("The assistant.", ref("Assistant")) }),
  "POST /assistants/search": answers({
    200: listOf("Assistant", "The assistants found (only the fields of `select`, if given)."),
  }),
  "POST /assistants/count": answers({ 200: count }),
  "GET /assistants/:assistant_id": answers({ 200: json("The assistant.", ref("Assistant")) }),
  "PATCH /assistants/:assistant_id": answers({ 200: json("The assistant at its new version.", ref("Assistant")) }),
  "DELETE /assistants/:assistant_id": answers({ 204: noContent("Deleted.") }),
  "GET /assistants/:assistant_id/graph": answers({
    200: json("The graph's nodes and edges.", Type.Record(Type.String(), Type.Unknown())),
  }),
  "GET /assistants/:assistant_id/schemas": answers({ 200: json("The graph's schemas.", ref("GraphSchema")) }),
  "GET /assistants/:assistant_id/subgraphs": answers({ 200: json("The subgraphs' schemas.", ref("Subgraphs")) }),
  "GET /assistants/:assistant_id/subgraphs/:namespace": answers({ 200: json("The subgraph's schemas.", ref("Subgraphs")) }),
  "POST /assistants/:assistant_id/versions": answers({
    200: listOf("AssistantVersion", "The assistant's versions, newest first."),
  }),
  "POST /assistants/:assistant_id/latest": answers({ 200: json("The assistant at that version.", ref("Assistant")) }),
  "POST /threads": answers({ 200: json("The thread.", ref("Thread")) }),
  "POST /threads/search": answers({ 200: listOf("Thread", "The threads found (only the fields of `select`, if given).") }),
  "POST /threads/count": answers({ 200: count }),
  "POST /threads/prune": answers({ 200: json("How many threads were pruned.", ref("ThreadPruneResponse")) }),
  "GET /threads/:thread_id": answers({ 200: json("The thread.", ref("Thread")) }),
  "PATCH /threads/:thread_id": answers({
    200: json("The thread.", ref("Thread")),
    204: noContent("Updated, with `Prefer: return=minimal`."),
  }),
  "DELETE /threads/:thread_id": answers({ 204: noContent("Deleted.") }),
  "POST /threads/:thread_id/copy": answers({ 200: json("The copy.", ref("Thread")) }),
  "GET /threads/:thread_id/storage": answers({ 200: json("The thread's storage usage.", ref("ThreadStorage")) }),
  "GET /threads/:thread_id/state": answers({ 200: json("The thread's current state.", ref("ThreadState")) }),
  "POST /threads/:thread_id/state": answers({ 200: json("The checkpoint written.", ref("ThreadStateUpdateResponse")) }),
  "PATCH /threads/:thread_id/state": answers({ 204: noContent("Updated.") }),
  "GET /threads/:thread_id/state/:checkpoint_id": answers({ 200: json("The state at that checkpoint.", ref("ThreadState")) }),
  "POST /threads/:thread_id/state/checkpoint": answers({ 200: json("The state at that checkpoint.", ref("ThreadState")) }),
  "GET /threads/:thread_id/history": answers({ 200: listOf("ThreadState", "The thread's states, newest first.") }),
  "POST /threads/:thread_id/history": answers({ 200: listOf("ThreadState", "The thread's states, newest first.") }),
  "GET /threads/:thread_id/stream": answers({ 200: events("Every run of the thread, one after another.") }),
  "GET /threads/:thread_id/runs": answers({ 200: listOf("Run", "The thread's runs, newest first.") }),
  "POST /threads/:thread_id/runs": answers({ 200: json("The run, pending.", ref("Run")) }),
  "POST /threads/:thread_id/runs/stream": answers({ 200: events("The run's events.") }),
  "POST /threads/:thread_id/runs/wait": answers({ 200: runOutput }),
  "GET /threads/:thread_id/runs/:run_id": answers({ 200: json("The run.", ref("Run")) }),
  "DELETE /threads/:thread_id/runs/:run_id": answers({ 204: noContent("Deleted.") }),
  "GET /threads/:thread_id/runs/:run_id/join": answers({ 200: runOutput }),
  "GET /threads/:thread_id/runs/:run_id/stream": answers({
    200: events("The run's events, from the start or after `Last-Event-ID`."),
  }),
  "POST /threads/:thread_id/runs/:run_id/cancel": answers({
    200: json("The run, once it ended (with `wait`).", ref("Run")),
    202: noContent("Cancelling."),
    204: noContent("Rolled back: the run is gone once it stopped (with `wait`)."),
  }),
  "POST /threads/:thread_id/runs/crons": answers({ 200: json("The cron.", ref("Cron")) }),
  "POST /runs/cancel": answers({ 204: noContent("Cancelled.") }),
  "POST /runs": answers({ 200: json("The run, pending.", ref("Run")) }),
  "POST /runs/stream": answers({ 200: events("The run's events.") }),
  "POST /runs/wait": answers({ 200: runOutput }),
  "POST /runs/batch": answers({ 200: listOf("Run", "The runs, pending.") }),
  "GET /runs/:run_id/stream": answers({ 200: events("The run's events, from the start or after `Last-Event-ID`.") }),
  "GET /runs/:run_id/webhooks": answers({ 200: listOf("WebhookDelivery", "The run's webhook deliveries.") }),
  "POST /runs/crons": answers({ 200: json("The cron.", ref("Cron")) }),
  "POST /runs/crons/search": answers({ 200: listOf("Cron", "The crons found.") }),
  "POST /runs/crons/count": answers({ 200: count }),
  "GET /runs/crons/:cron_id": answers({ 200: json("The cron.", ref("Cron")) }),
  "PATCH /runs/crons/:cron_id": answers({ 200: json("The cron.", ref("Cron")) }),
  "DELETE /runs/crons/:cron_id": answers({ 204: noContent("Deleted.") }),
  "PUT /store/items": answers({ 204: noContent("Stored.") }),
  "GET /store/items": answers({ 200: json("The item, or null when there is none.", { anyOf: [ref("Item"), { type: "null" }] }) }),
  "DELETE /store/items": answers({ 204: noContent("Deleted.") }),
  "POST /store/items/search": answers({ 200: json("The items found.", ref("SearchItemsResponse")) }),
  "POST /store/namespaces": answers({ 200: json("The namespaces found.", ref("ListNamespaceResponse")) }),
};
