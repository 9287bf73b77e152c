import { Type } from "typebox";

/*
 * The MCP endpoint's contract as documented: the Streamable HTTP transport checks the message
 * itself and answers its faults as JSON-RPC errors, so these schemas validate nothing.
 */

export const McpMessageBody = Type.Union(
  [
    Type.Object({
      jsonrpc: Type.Literal("2.0"),
      id: Type.Optional(Type.Union([Type.String(), Type.Number()])),
      method: Type.Optional(Type.String({ description: "initialize, tools/list, tools/call, ...; absent in a response." })),
      params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
    Type.Array(Type.Record(Type.String(), Type.Unknown()), { description: "A batch of JSON-RPC messages." }),
  ],
  { description: "A JSON-RPC 2.0 request, notification or response, or a batch of them." },
);

export const McpPostHeaders = Type.Object({
  accept: Type.String({ description: "Must list both application/json and text/event-stream." }),
});
