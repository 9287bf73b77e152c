import { useQuery } from "@connectrpc/connect-query";
import { SortOrder } from "@langopen/gen/langopen/data/v1/common_pb";
import { CronService } from "@langopen/gen/langopen/data/v1/cron_service_pb";
import { keepPreviousData } from "@tanstack/react-query";
import { Link } from "react-router";
import { Page } from "../../components/page";
import { Pager, usePage } from "../../components/pager";
import { QueryView } from "../../components/query-view";
import { Time } from "../../components/time";

const PAGE_SIZE = 50;

/** The crons, soonest next run first. */
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
    <Page title="Crons" subtitle={total === undefined ? undefined : `${total} cron${total === 1 ? "" : "s"}`}>
      <QueryView query={crons} loading="Loading crons…" errorContext="Could not load the crons">
        {({ crons: list }) =>
          list.length === 0 ? (
            <p className="empty">No crons.</p>
          ) : (
            <>
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Cron</th>
                      <th scope="col">Schedule</th>
                      <th scope="col">Assistant</th>
                      <th scope="col">Thread</th>
                      <th scope="col">Next run</th>
                      <th scope="col">Enabled</th>
                    </tr>
                  </thead>
                  <tbody>
                    {list.map((cron) => (
                      <tr key={cron.cronId}>
                        <td>
                          <code>{cron.cronId}</code>
                        </td>
                        <td>
                          <code>{cron.schedule}</code> {cron.timezone || "UTC"}
                        </td>
                        <td>
                          <Link to={`/assistants/${encodeURIComponent(cron.assistantId)}/graph`}>{cron.assistantId}</Link>
                        </td>
                        <td>{cron.threadId ? <code>{cron.threadId}</code> : <span className="muted">stateless</span>}</td>
                        <td>
                          <Time value={cron.nextRunTime} />
                        </td>
                        <td>{cron.enabled ? "yes" : "no"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <Pager
                page={page}
                pageSize={PAGE_SIZE}
                total={total}
                hasMore={total !== undefined ? page * PAGE_SIZE < total : list.length === PAGE_SIZE}
              />
            </>
          )
        }
      </QueryView>
    </Page>
  );
}
