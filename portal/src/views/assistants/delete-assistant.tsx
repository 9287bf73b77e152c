import { createConnectQueryKey, useMutation } from "@connectrpc/connect-query";
import type { Assistant } from "@langopen/gen/langopen/data/v1/assistant_pb";
import { AssistantService } from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import { useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "react-router";
import { ConfirmButton } from "../../components/confirm-button";
import { deleteQuestion } from "./assistant-fields";

/**
 * Deletes the assistant, then shows its graph's assistants. Away from its pages first, then only
 * the lists asked again: what showed the assistant must not ask for it (it is gone).
 */
export function useDeleteAssistant(assistant: Assistant) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  return useMutation(AssistantService.method.deleteAssistant, {
    onSuccess: async () => {
      await navigate(`/assistants?graph=${encodeURIComponent(assistant.graphId)}`, { replace: true });
      const { searchAssistants, countAssistants } = AssistantService.method;
      await Promise.all([
        queryClient.invalidateQueries({ queryKey: createConnectQueryKey({ schema: searchAssistants, cardinality: undefined }) }),
        queryClient.invalidateQueries({ queryKey: createConnectQueryKey({ schema: countAssistants, cardinality: undefined }) }),
      ]);
    },
  });
}

/** The Delete button, asked twice; the server's refusal, if any, is shown by the page (`remove.error`). */
export function DeleteAssistantButton({
  assistant,
  remove,
}: {
  assistant: Assistant;
  remove: ReturnType<typeof useDeleteAssistant>;
}) {
  return (
    <ConfirmButton
      label="Delete"
      question={deleteQuestion(assistant)}
      confirmLabel="Yes, delete"
      pending={remove.isPending}
      pendingLabel="Deleting…"
      onConfirm={() => remove.mutate({ assistantId: assistant.assistantId })}
    />
  );
}
