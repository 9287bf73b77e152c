// The data pages: threads (with their state, history and runs), the interrupts inbox, the
// store, crons and webhook deliveries. Each lives in its own folder.
import { Navigate, type RouteObject } from "react-router";
import { CronPage } from "./crons/cron-page";
import { CronsPage } from "./crons/crons-page";
import { NewCronPage } from "./crons/new-cron-page";
import { InterruptsPage } from "./interrupts/interrupts-page";
import { StorePage } from "./store/store-page";
import { HistoryTab } from "./threads/history-tab";
import { RunsTab } from "./threads/runs-tab";
import { StateTab } from "./threads/state-tab";
import { ThreadPage } from "./threads/thread-page";
import { ThreadsPage } from "./threads/threads-page";
import { WebhooksPage } from "./webhooks/webhooks-page";

export const dataRoutes: RouteObject[] = [
  { path: "threads", element: <ThreadsPage /> },
  {
    path: "threads/:threadId",
    element: <ThreadPage />,
    children: [
      { index: true, element: <Navigate to="state" replace /> },
      { path: "state", element: <StateTab /> },
      { path: "history", element: <HistoryTab /> },
      { path: "runs", element: <RunsTab /> },
    ],
  },
  { path: "interrupts", element: <InterruptsPage /> },
  { path: "store", element: <StorePage /> },
  { path: "crons", element: <CronsPage /> },
  { path: "crons/new", element: <NewCronPage /> },
  { path: "crons/:cronId", element: <CronPage /> },
  { path: "webhooks", element: <WebhooksPage /> },
];
