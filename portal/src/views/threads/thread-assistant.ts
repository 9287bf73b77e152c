import { skipToken, useQuery } from "@connectrpc/connect-query";
import { AssistantService } from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import { RunService } from "@langopen/gen/langopen/data/v1/run_service_pb";
import { decodeJson } from "../../lib/json";
import { interruptibleNodes } from "../assistants/graph-json";

/**
 * The assistant a thread's new runs use: the one its metadata names, else that of its latest run.
 * `pending` while the latest run is being looked up.
 */
export function useThreadAssistant(threadId: string, fromMetadata: string | undefined) {
  const latest = useQuery(RunService.method.listRuns, fromMetadata === undefined ? { threadId, limit: 1 } : skipToken, {
    select: (response) => response.runs[0]?.assistantId,
  });
  return { assistantId: fromMetadata ?? latest.data, pending: fromMetadata === undefined && latest.isPending };
}

/** The node names of an assistant's graph (not __start__ and __end__), for choosing a state update's node. */
export function useGraphNodes(assistantId: string | undefined) {
  return useQuery(AssistantService.method.getAssistantGraph, assistantId ? { assistantId, xray: 0 } : skipToken, {
    select: (response) => interruptibleNodes(decodeJson(response.graphJson)),
    staleTime: 60_000,
  });
}
