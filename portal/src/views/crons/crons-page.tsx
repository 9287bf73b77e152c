import { useQuery } from "@connectrpc/connect-query";
import { SortOrder } from "@langopen/gen/langopen/data/v1/common_pb";
import { CronService } from "@langopen/gen/langopen/data/v1/cron_service_pb";
import { keepPreviousData } from "@tanstack/react-query";
import { Link } from "react-router";
import { DataTable } from "../../components/data-table";
import { Page } from "../../components/page";
import { Pager, usePage } from "../../components/pager";
import { QueryView } from "../../components/query-view";
import { Time } from "../../components/time";
import { threadPath } from "../threads/run-names";

const PAGE_SIZE = 50;

export function cronPath(cronId: string): string {
  return `/crons/${encodeURIComponent(cronId)}`;
}

/** The crons, soonest next run first (?page= pages); each opens at /crons/:cronId. */
export function CronsPage() {
  const page = usePage();
  const crons = useQuery(
    CronService.method.searchCrons,
    { limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE, sortBy: "next_run_date", sortOrder: SortOrder.ASC },
    { placeholderData: keepPreviousData },
  );
  const count = useQuery(CronService.method.countCrons, {});
  const total = count.data ? Number(count.data.count) : undefined;
  return (
    <Page
      title="Crons"
      subtitle={total === undefined ? "Runs on a schedule" : `${total} cron${total === 1 ? "" : "s"}`}
      actions={
        <Link to="/crons/new" className="button button-primary">
          New cron
        </Link>
      }
    >
      <QueryView query={crons} loading="Loading crons…" errorContext="Could not load the crons">
        {({ crons: list }) =>
          list.length === 0 ? (
            <p className="empty">
              No crons. <Link to="/crons/new">Create one</Link> to run an assistant on a schedule.
            </p>
          ) : (
            <>
              <DataTable caption="Crons" columns={["Cron", "Schedule", "Assistant", "Thread", "Next run", "Enabled"]}>
                {list.map((cron) => (
                  <tr key={cron.cronId}>
                    <td>
                      <Link to={cronPath(cron.cronId)}>
                        <code>{cron.cronId}</code>
                      </Link>
                    </td>
                    <td>
                      <code>{cron.schedule}</code> <span className="muted">{cron.timezone || "UTC"}</span>
                    </td>
                    <td>
                      <Link to={`/assistants/${encodeURIComponent(cron.assistantId)}/graph`}>
                        <code>{cron.assistantId.slice(0, 8)}</code>
                      </Link>
                    </td>
                    <td>
                      {cron.threadId ? (
                        <Link to={threadPath(cron.threadId)}>
                          <code>{cron.threadId.slice(0, 8)}</code>
                        </Link>
                      ) : (
                        <span className="muted">new each run</span>
                      )}
                    </td>
                    <td>{cron.enabled ? <Time value={cron.nextRunTime} /> : <span className="muted">—</span>}</td>
                    <td>
                      <span className={cron.enabled ? "badge badge-success" : "badge"}>
                        {cron.enabled ? "enabled" : "disabled"}
                      </span>
                    </td>
                  </tr>
                ))}
              </DataTable>
              <Pager page={page} pageSize={PAGE_SIZE} total={total} shown={list.length} />
            </>
          )
        }
      </QueryView>
    </Page>
  );
}
