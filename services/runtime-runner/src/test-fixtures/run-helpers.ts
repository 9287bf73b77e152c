import { randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import type { RunSpecSchema } from "@langopen/gen/langopen/data/v1/run_pb";
import { RunOutcome, type RunResult, type RuntimeService } from "@langopen/gen/langopen/runtime/v1/runtime_service_pb";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export interface CollectedEvent {
  id: string;
  event: string;
  data: unknown;
}

export interface CollectedRun {
  events: CollectedEvent[];
  result: RunResult;
  outcome: string;
  values: unknown;
  interrupts: Record<string, unknown[]>;
  error: unknown;
}

export const json = (value: unknown) => encoder.encode(JSON.stringify(value));
export const parse = (bytes: Uint8Array): unknown => (bytes.length === 0 ? undefined : JSON.parse(decoder.decode(bytes)));

export interface RunArgs {
  graphId: string;
  threadId?: string;
  runId?: string;
  spec?: MessageInitShape<typeof RunSpecSchema>;
  epoch?: bigint;
  signal?: AbortSignal;
  /** Checkpoints in the runtime's memory only (a stateless run's temporary thread). */
  ephemeral?: boolean;
}

/** Calls ExecuteRun and collects its events and final result. */
export async function executeRun(client: Client<typeof RuntimeService>, args: RunArgs): Promise<CollectedRun> {
  const runId = args.runId ?? randomUUID();
  const events: CollectedEvent[] = [];
  let result: RunResult | undefined;
  for await (const res of client.executeRun(
    {
      runId,
      threadId: args.threadId ?? "",
      graphId: args.graphId,
      assistantId: randomUUID(),
      spec: args.spec ?? {},
      fence: { runId, epoch: args.epoch ?? 1n },
      ephemeral: args.ephemeral ?? false,
    },
    { signal: args.signal },
  )) {
    if (res.kind.case === "event")
      events.push({ id: res.kind.value.id, event: res.kind.value.event, data: parse(res.kind.value.dataJson) });
    else if (res.kind.case === "result") result = res.kind.value;
  }
  if (!result) throw new Error("ExecuteRun ended without a result");
  return {
    events,
    result,
    outcome: RunOutcome[result.outcome],
    values: parse(result.valuesJson),
    interrupts: (parse(result.interruptsJson) ?? {}) as Record<string, unknown[]>,
    error: parse(result.errorJson),
  };
}

export function named(events: CollectedEvent[], name: string): unknown[] {
  return events.filter((e) => e.event === name).map((e) => e.data);
}

/** A ThreadState as parsed in assertions. */
export interface StateJson {
  values: Record<string, unknown> & { messages?: Array<{ type: string; content: string }> };
  next: string[];
  tasks: Array<{ id: string; name: string; interrupts: unknown[]; state: StateJson | null }>;
  checkpoint: { thread_id: string; checkpoint_ns: string; checkpoint_id: string };
  parent_checkpoint: { thread_id: string; checkpoint_id: string } | null;
  metadata: Record<string, unknown> & { step: number; source: string };
  created_at: string;
  interrupts: unknown[];
}

export const parseState = (bytes: Uint8Array) => parse(bytes) as StateJson;

/** A GraphSchema as parsed in assertions. */
export interface SchemasJson {
  graph_id?: string;
  input_schema: { properties: Record<string, unknown> };
  output_schema: { properties: Record<string, unknown> };
  state_schema: { type: string; properties: Record<string, unknown> };
}
