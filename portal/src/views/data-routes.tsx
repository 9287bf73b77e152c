// The data pages: threads, interrupts, the store, crons and webhook deliveries. Each lives in
// its own folder; these first versions list what the server holds and link to the assistants'
// pages where a run can be watched or resumed.
import type { RouteObject } from "react-router";
import { CronsPage } from "./crons/crons-page";
import { InterruptsPage } from "./interrupts/interrupts-page";
import { StorePage } from "./store/store-page";
import { ThreadsPage } from "./threads/threads-page";
import { WebhooksPage } from "./webhooks/webhooks-page";

export const dataRoutes: RouteObject[] = [
  { path: "threads", element: <ThreadsPage /> },
  { path: "interrupts", element: <InterruptsPage /> },
  { path: "store", element: <StorePage /> },
  { path: "crons", element: <CronsPage /> },
  { path: "webhooks", element: <WebhooksPage /> },
];
