import { type Static, Type } from "typebox";

/*
 * Protocol v2 ("thread-centric streaming protocol"): the command envelope of
 * POST /threads/{thread_id}/commands and the filter of POST /threads/{thread_id}/stream/events.
 * Both objects stay open: the SDK adds keys of its own.
 */

/**
 * The channels a v2 event stream can ask for: the protocol's eight, plus `checkpoints`, which
 * the JS SDK still types and routes. `custom:<name>` selects one named custom channel.
 */
export const PROTOCOL_CHANNELS = [
  "values",
  "updates",
  "messages",
  "tools",
  "lifecycle",
  "input",
  "tasks",
  "custom",
  "checkpoints",
] as const;

const CHANNEL_LIST = `${PROTOCOL_CHANNELS.map((c) => JSON.stringify(c)).join(", ")} or "custom:<name>"`;

export const ProtocolChannel = Type.Union(
  [
    Type.Enum([...PROTOCOL_CHANNELS]),
    Type.String({ pattern: "^custom:.+$", description: "A user-defined named custom channel." }),
  ],
  { errorMessage: `must be one of ${CHANNEL_LIST}` },
);

/** A position in the agent tree: [] is the root graph, each segment a nested subgraph. */
export const ProtocolNamespace = Type.Array(Type.String(), { errorMessage: "must be a list of strings" });

/** Body of POST /threads/{thread_id}/stream/events (upstream ProtocolEventStreamRequest). */
export const EventStreamBody = Type.Object({
  channels: Type.Array(ProtocolChannel, {
    minItems: 1,
    description: "Channels to receive for the lifetime of this connection.",
  }),
  namespaces: Type.Optional(
    Type.Array(ProtocolNamespace, {
      description: "Prefix filter: an event matches when its namespace starts with one of these. Omit for all.",
      errorMessage: "must be a list of namespaces (lists of strings)",
    }),
  ),
  depth: Type.Optional(
    Type.Integer({ minimum: 0, description: "Most levels below the namespace prefix.", errorMessage: "must be an integer >= 0" }),
  ),
  since: Type.Optional(
    Type.Integer({
      minimum: 0,
      description: "Replay the kept events whose `seq` is greater than this, then stream live ones.",
      errorMessage: "must be an integer >= 0",
    }),
  ),
});
export type EventStreamBody = Static<typeof EventStreamBody>;

/** Body of POST /threads/{thread_id}/commands (upstream ProtocolCommand). */
export const CommandBody = Type.Object({
  id: Type.Integer({
    minimum: 0,
    description: "Client-assigned command id, echoed in the answer.",
    errorMessage: "must be an integer >= 0",
  }),
  method: Type.String({
    description: "The command: run.start, input.respond or agent.getTree.",
    errorMessage: "must be a string",
  }),
  params: Type.Optional(
    Type.Record(Type.String(), Type.Unknown(), {
      description: "Method-specific parameters.",
      errorMessage: "must be a JSON object",
    }),
  ),
});
export type CommandBody = Static<typeof CommandBody>;
