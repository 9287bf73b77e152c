import { createConnectQueryKey, useMutation, useQuery } from "@connectrpc/connect-query";
import type { Cron } from "@langopen/gen/langopen/data/v1/cron_pb";
import { OnRunCompleted } from "@langopen/gen/langopen/data/v1/cron_pb";
import { CronService } from "@langopen/gen/langopen/data/v1/cron_service_pb";
import { MultitaskStrategy } from "@langopen/gen/langopen/data/v1/run_pb";
import { useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate, useParams } from "react-router";
import { ConfirmButton } from "../../components/confirm-button";
import { ErrorBox } from "../../components/error-box";
import { JsonView } from "../../components/json-view";
import { Page, Section } from "../../components/page";
import { QueryView } from "../../components/query-view";
import { Time } from "../../components/time";
import { decodeJsonLenient } from "../../lib/json";
import { threadPath } from "../threads/run-names";

const ON_COMPLETED: Record<OnRunCompleted, string> = {
  [OnRunCompleted.UNSPECIFIED]: "default",
  [OnRunCompleted.DELETE]: "delete the run's thread",
  [OnRunCompleted.KEEP]: "keep the run's thread",
};

const MULTITASK: Record<MultitaskStrategy, string> = {
  [MultitaskStrategy.UNSPECIFIED]: "default",
  [MultitaskStrategy.REJECT]: "reject",
  [MultitaskStrategy.INTERRUPT]: "interrupt",
  [MultitaskStrategy.ROLLBACK]: "rollback",
  [MultitaskStrategy.ENQUEUE]: "enqueue",
};

/** One cron (/crons/:cronId): its schedule and payload, turned on and off, or deleted. */
export function CronPage() {
  const { cronId = "" } = useParams();
  const query = useQuery(CronService.method.getCron, { cronId });
  return (
    <QueryView query={query} loading="Loading the cron…" errorContext="Could not load the cron">
      {({ cron }) =>
        cron ? (
          <CronLoaded cron={cron} />
        ) : (
          <Page title="Cron not found">
            <p>
              The server answered no cron. <Link to="/crons">Back to the crons</Link>.
            </p>
          </Page>
        )
      }
    </QueryView>
  );
}

function CronLoaded({ cron }: { cron: Cron }) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const invalidate = () =>
    queryClient.invalidateQueries({ queryKey: createConnectQueryKey({ schema: CronService, cardinality: undefined }) });
  const toggle = useMutation(CronService.method.updateCron, { onSuccess: () => void invalidate() });
  const remove = useMutation(CronService.method.deleteCron, {
    onSuccess: () => {
      void invalidate();
      navigate("/crons", { replace: true });
    },
  });
  const payload = decodeJsonLenient(cron.payloadJson);
  return (
    <Page
      title={
        <>
          Cron <code className="title-id">{cron.cronId}</code>
        </>
      }
      documentTitle={`Cron ${cron.cronId.slice(0, 8)}`}
      subtitle={
        <>
          <Link to="/crons">Crons</Link>
          <span className={cron.enabled ? "badge badge-success" : "badge"}>{cron.enabled ? "enabled" : "disabled"}</span>
          <span>
            <code>{cron.schedule}</code> {cron.timezone || "UTC"}
          </span>
        </>
      }
      actions={
        <>
          <button
            type="button"
            className="button"
            disabled={toggle.isPending}
            onClick={() => toggle.mutate({ cronId: cron.cronId, enabled: !cron.enabled })}
          >
            {toggle.isPending ? "Saving…" : cron.enabled ? "Disable" : "Enable"}
          </button>
          <ConfirmButton
            label="Delete"
            question="Delete this cron?"
            confirmLabel="Yes, delete"
            pending={remove.isPending}
            pendingLabel="Deleting…"
            onConfirm={() => remove.mutate({ cronId: cron.cronId })}
          />
        </>
      }
    >
      {toggle.isError && <ErrorBox error={toggle.error} context={`Could not ${cron.enabled ? "disable" : "enable"} the cron`} />}
      {remove.isError && <ErrorBox error={remove.error} context="Could not delete the cron" />}
      <Section title="Schedule">
        <dl className="facts">
          <dt>Schedule</dt>
          <dd>
            <code>{cron.schedule}</code>
          </dd>
          <dt>Time zone</dt>
          <dd>{cron.timezone || "UTC"}</dd>
          <dt>Next run</dt>
          <dd>
            {cron.enabled && cron.nextRunTime ? (
              <>
                <Time value={cron.nextRunTime} absolute /> (<Time value={cron.nextRunTime} />)
              </>
            ) : cron.enabled ? (
              "none: the schedule has ended"
            ) : (
              "none while disabled"
            )}
          </dd>
          <dt>Ends</dt>
          <dd>{cron.endTime ? <Time value={cron.endTime} absolute /> : "never"}</dd>
          <dt>Assistant</dt>
          <dd>
            <Link to={`/assistants/${encodeURIComponent(cron.assistantId)}/graph`}>
              <code>{cron.assistantId}</code>
            </Link>
          </dd>
          <dt>Thread</dt>
          <dd>
            {cron.threadId ? (
              <Link to={threadPath(cron.threadId)}>
                <code>{cron.threadId}</code>
              </Link>
            ) : (
              "a new thread for each run"
            )}
          </dd>
          {!cron.threadId && (
            <>
              <dt>When a run ends</dt>
              <dd>{ON_COMPLETED[cron.onRunCompleted]}</dd>
            </>
          )}
          <dt>Multitask strategy</dt>
          <dd>{MULTITASK[cron.multitaskStrategy]}</dd>
          {cron.userId && (
            <>
              <dt>Owner</dt>
              <dd>{cron.userId}</dd>
            </>
          )}
          <dt>Created</dt>
          <dd>
            <Time value={cron.createTime} absolute />
          </dd>
          <dt>Updated</dt>
          <dd>
            <Time value={cron.updateTime} absolute />
          </dd>
        </dl>
      </Section>
      <Section title="Payload">
        <JsonView value={payload ?? {}} expandDepth={4} />
      </Section>
      <Section title="Metadata">
        <JsonView value={cron.metadata ?? {}} />
      </Section>
    </Page>
  );
}
