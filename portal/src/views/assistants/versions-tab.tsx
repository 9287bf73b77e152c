import { createConnectQueryKey, useMutation, useQuery } from "@connectrpc/connect-query";
import { AssistantService } from "@langopen/gen/langopen/data/v1/assistant_service_pb";
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ErrorBox } from "../../components/error-box";
import { JsonView } from "../../components/json-view";
import { QueryView } from "../../components/query-view";
import { Time } from "../../components/time";
import { useAssistantContext } from "./assistant-context";

/** The assistant's stored versions, newest first; any one can become the version in use. */
export function VersionsTab() {
  const { assistant } = useAssistantContext();
  const queryClient = useQueryClient();
  const versions = useQuery(AssistantService.method.listAssistantVersions, { assistantId: assistant.assistantId, limit: 100 });
  const [confirming, setConfirming] = useState<number>();
  const setLatest = useMutation(AssistantService.method.setLatestAssistantVersion, {
    onSuccess: async () => {
      setConfirming(undefined);
      await queryClient.invalidateQueries({
        queryKey: createConnectQueryKey({ schema: AssistantService, cardinality: undefined }),
      });
    },
  });

  return (
    <QueryView query={versions} loading="Loading the versions…" errorContext="Could not load the versions">
      {({ versions: list }) => (
        <>
          {setLatest.isError && <ErrorBox error={setLatest.error} context="Could not change the version" />}
          {list.length === 0 ? (
            <p className="empty">No versions stored.</p>
          ) : (
            <ol className="version-list">
              {[...list]
                .sort((a, b) => b.version - a.version)
                .map((version) => {
                  const current = version.version === assistant.version;
                  return (
                    <li key={version.version} className={current ? "card card-current" : "card"}>
                      <div className="version-head">
                        <h3>Version {version.version}</h3>
                        {current && <span className="badge badge-success">in use</span>}
                        <span className="muted">
                          <Time value={version.createTime} />
                        </span>
                        {version.name && <span>{version.name}</span>}
                        <div className="version-actions">
                          {!current && confirming !== version.version && (
                            <button type="button" className="button" onClick={() => setConfirming(version.version)}>
                              Use this version
                            </button>
                          )}
                          {!current && confirming === version.version && (
                            <span className="confirm">
                              <span>Make version {version.version} the one in use?</span>
                              <button
                                type="button"
                                className="button button-primary"
                                disabled={setLatest.isPending}
                                onClick={() => setLatest.mutate({ assistantId: assistant.assistantId, version: version.version })}
                              >
                                {setLatest.isPending ? "Saving…" : "Yes, use it"}
                              </button>
                              <button type="button" className="button" onClick={() => setConfirming(undefined)}>
                                Cancel
                              </button>
                            </span>
                          )}
                        </div>
                      </div>
                      <details>
                        <summary>Config, context and metadata</summary>
                        <JsonView
                          value={{
                            config: version.config ?? {},
                            context: version.context ?? {},
                            metadata: version.metadata ?? {},
                          }}
                        />
                      </details>
                    </li>
                  );
                })}
            </ol>
          )}
        </>
      )}
    </QueryView>
  );
}
