import type { Assistant } from "@langopen/gen/langopen/data/v1/assistant_pb";
import { useOutletContext } from "react-router";
import type { RunController } from "./use-run";

/** What the assistant page gives its tabs: the assistant, and the run it watches (shared by Graph and Run). */
export interface AssistantContext {
  assistant: Assistant;
  run: RunController;
}

export function useAssistantContext(): AssistantContext {
  return useOutletContext<AssistantContext>();
}
