import { useQuery } from "@connectrpc/connect-query";
import { AuditService } from "@langopen/gen/langopen/control/v1/audit_service_pb";
import { keepPreviousData } from "@tanstack/react-query";
import { type FormEvent, useEffect, useId, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { DataTable } from "../../components/data-table";
import { JsonView } from "../../components/json-view";
import { Loading } from "../../components/loading";
import { Page } from "../../components/page";
import { Pager, usePage } from "../../components/pager";
import { QueryView } from "../../components/query-view";
import { Time } from "../../components/time";
import { deploymentPath } from "./deployment-context";
import { useDeploymentChoices } from "./use-deployments";

const PAGE_SIZE = 50;

/** Actions the platform records; a prefix ending with "." takes a whole family. */
const ACTIONS = [
  "deployment.",
  "deployment.create",
  "deployment.update",
  "deployment.delete",
  "revision.",
  "revision.create",
  "revision.rollback",
  "api_key.",
  "api_key.create",
  "api_key.revoke",
  "secret.",
  "secret.set",
  "secret.unset",
];

/**
 * Every change made through the control plane, newest first: who, what, on what, when, from where,
 * and what changed. Filters (?deployment=, ?actor=, ?action=) and ?page= are in the URL.
 */
export function AuditPage() {
  const [params, setParams] = useSearchParams();
  const page = usePage();
  const filter = {
    deployment: params.get("deployment") ?? "",
    actor: params.get("actor") ?? "",
    action: params.get("action") ?? "",
  };
  const { deployments, nameOf } = useDeploymentChoices();
  const [draft, setDraft] = useState(filter);
  const ids = { deployment: useId(), actor: useId(), actorHint: useId(), action: useId(), actions: useId() };

  // The URL changed (back, forward, a link): the fields show its filters.
  // biome-ignore lint/correctness/useExhaustiveDependencies: follows the URL's filters only
  useEffect(() => setDraft(filter), [filter.deployment, filter.actor, filter.action]);

  const events = useQuery(
    AuditService.method.listAuditEvents,
    { ...filter, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE },
    { placeholderData: keepPreviousData },
  );

  const apply = (event: FormEvent) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [name, value] of Object.entries(draft)) if (value.trim()) next.set(name, value.trim());
    setParams(next);
  };
  const filtered = filter.deployment || filter.actor || filter.action;

  return (
    <Page title="Audit log" subtitle="Every change made through the platform, newest first">
      <search>
        <form className="toolbar" onSubmit={apply}>
          <div className="field">
            <label htmlFor={ids.deployment}>Deployment</label>
            <select
              id={ids.deployment}
              value={draft.deployment}
              onChange={(event) => setDraft({ ...draft, deployment: event.target.value })}
            >
              <option value="">Any deployment</option>
              {draft.deployment && !deployments.some((candidate) => candidate.name === draft.deployment) && (
                <option value={draft.deployment}>{draft.deployment}</option>
              )}
              {deployments.map((candidate) => (
                <option key={candidate.deploymentId} value={candidate.name}>
                  {candidate.name}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor={ids.actor}>Actor (key id)</label>
            <input
              id={ids.actor}
              type="search"
              className="code-input"
              autoComplete="off"
              spellCheck={false}
              placeholder="key id or system"
              value={draft.actor}
              onChange={(event) => setDraft({ ...draft, actor: event.target.value })}
            />
          </div>
          <div className="field">
            <label htmlFor={ids.action}>Action</label>
            <input
              id={ids.action}
              type="search"
              className="code-input"
              list={ids.actions}
              autoComplete="off"
              spellCheck={false}
              placeholder="deployment. or secret.set"
              value={draft.action}
              onChange={(event) => setDraft({ ...draft, action: event.target.value })}
            />
            <datalist id={ids.actions}>
              {ACTIONS.map((action) => (
                <option key={action} value={action} />
              ))}
            </datalist>
          </div>
          <div className="toolbar-buttons">
            <button type="submit" className="button button-primary">
              Filter
            </button>
            {filtered && (
              <Link to="/audit" className="button">
                Clear
              </Link>
            )}
          </div>
          {events.isFetching && !events.isPending && <Loading inline label="Updating…" />}
        </form>
      </search>
      <QueryView query={events} loading="Loading the audit log…" errorContext="Could not load the audit log">
        {({ events: list }) =>
          list.length === 0 ? (
            <p className="empty">{filtered ? "No event matches." : "No events yet."}</p>
          ) : (
            <>
              <DataTable
                caption="Audit events, newest first"
                columns={["Time", "Actor", "Action", "Target", "Deployment", "From", "Details"]}
              >
                {list.map((event) => {
                  const deploymentName = event.deploymentId ? nameOf(event.deploymentId) : undefined;
                  const details = event.details ?? {};
                  return (
                    <tr key={event.eventId} className={event.allowed ? undefined : "row-refused"}>
                      <td>
                        <Time value={event.time} absolute />
                      </td>
                      <td>
                        <span>{event.actorName || event.actor}</span>
                        {event.actorName && event.actor !== event.actorName && (
                          <div>
                            <Link className="muted" to={`/audit?actor=${encodeURIComponent(event.actor)}`}>
                              <code>{event.actor}</code>
                            </Link>
                          </div>
                        )}
                      </td>
                      <td>
                        <code>{event.action}</code>
                        {!event.allowed && <span className="badge badge-error audit-refused">refused</span>}
                      </td>
                      <td className="cell-wrap">{event.target && <code>{event.target}</code>}</td>
                      <td>
                        {event.deploymentId ? (
                          deploymentName ? (
                            <Link to={deploymentPath(deploymentName, "overview")}>{deploymentName}</Link>
                          ) : (
                            // Deleted (or out of this key's sight): its trail stays readable by its id.
                            <Link
                              to={`/audit?deployment=${encodeURIComponent(event.deploymentId)}`}
                              title="A deleted deployment: its events"
                            >
                              <code>{event.deploymentId}</code>
                            </Link>
                          )
                        ) : (
                          <span className="muted">—</span>
                        )}
                      </td>
                      <td>{event.sourceAddress && <code>{event.sourceAddress}</code>}</td>
                      <td className="cell-wrap">
                        {Object.keys(details).length > 0 ? (
                          <details>
                            <summary>{Object.keys(details).join(", ")}</summary>
                            <JsonView value={details} copyable={false} />
                          </details>
                        ) : (
                          <span className="muted">—</span>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </DataTable>
              <Pager page={page} pageSize={PAGE_SIZE} shown={list.length} />
            </>
          )
        }
      </QueryView>
    </Page>
  );
}
