import type { RouteObject } from "react-router";
import { Navigate } from "react-router";
import { AssistantList } from "./assistant-list";
import { AssistantPage } from "./assistant-page";
import { ConfigTab } from "./config-tab";
import { GraphTab } from "./graph-tab";
import { NewAssistantPage } from "./new-assistant-page";
import { RunTab } from "./run-tab";
import { VersionsTab } from "./versions-tab";

/** /assistants, /assistants/new?graph=…, and /assistants/:assistantId/{graph,run,versions,config}. */
export const assistantRoutes: RouteObject[] = [
  { path: "assistants", element: <AssistantList /> },
  { path: "assistants/new", element: <NewAssistantPage /> },
  {
    path: "assistants/:assistantId",
    element: <AssistantPage />,
    children: [
      { index: true, element: <Navigate to="graph" replace /> },
      { path: "graph", element: <GraphTab /> },
      { path: "run", element: <RunTab /> },
      { path: "versions", element: <VersionsTab /> },
      { path: "config", element: <ConfigTab /> },
    ],
  },
];
