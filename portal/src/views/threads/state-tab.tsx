import { useQuery } from "@connectrpc/connect-query";
import { ThreadService } from "@langopen/gen/langopen/data/v1/thread_service_pb";
import { JsonView } from "../../components/json-view";
import { Section } from "../../components/page";
import { QueryView } from "../../components/query-view";
import { Time } from "../../components/time";
import { decodeJson, decodeJsonLenient } from "../../lib/json";
import { toCheckpoint } from "./checkpoints";
import { useThreadContext } from "./thread-page";

/** The thread as it is: its values, what runs next, its metadata and config. */
export function StateTab() {
  const { thread } = useThreadContext();
  const state = useQuery(
    ThreadService.method.getThreadState,
    { threadId: thread.threadId },
    { select: (response) => toCheckpoint(decodeJson(response.stateJson)) },
  );
  const values = decodeJsonLenient(thread.valuesJson);
  return (
    <div className="thread-state">
      <Section title="Values">
        {values === undefined ? (
          <p className="muted">No values yet: no run has written to this thread.</p>
        ) : (
          <JsonView value={values} />
        )}
      </Section>
      <Section title="Latest checkpoint">
        <QueryView query={state} loading="Loading the state…" errorContext="Could not load the thread's state">
          {(checkpoint) =>
            checkpoint === undefined ? (
              <p className="muted">No checkpoint yet.</p>
            ) : (
              <dl className="facts">
                <dt>Checkpoint</dt>
                <dd>
                  <code>{checkpoint.checkpointId}</code>
                </dd>
                <dt>Step</dt>
                <dd>
                  {checkpoint.step ?? "—"} {checkpoint.source && <span className="muted">({checkpoint.source})</span>}
                </dd>
                <dt>Next</dt>
                <dd>{checkpoint.next.length > 0 ? <code>{checkpoint.next.join(", ")}</code> : "nothing left to run"}</dd>
                {checkpoint.interrupts.length > 0 && (
                  <>
                    <dt>Interrupts</dt>
                    <dd>
                      <JsonView value={checkpoint.interrupts} expandDepth={3} />
                    </dd>
                  </>
                )}
              </dl>
            )
          }
        </QueryView>
      </Section>
      <Section title="Metadata">
        <JsonView value={thread.metadata ?? {}} />
      </Section>
      <Section title="Details">
        <dl className="facts">
          <dt>Created</dt>
          <dd>
            <Time value={thread.createTime} absolute />
          </dd>
          <dt>Updated</dt>
          <dd>
            <Time value={thread.updateTime} absolute />
          </dd>
          <dt>State updated</dt>
          <dd>
            <Time value={thread.stateUpdateTime} absolute />
          </dd>
        </dl>
        <details className="plain-details">
          <summary className="details-summary">Config</summary>
          <JsonView value={thread.config ?? {}} />
        </details>
      </Section>
    </div>
  );
}
