// The platform's pages (the portal served by the control plane): deployments and their
// revisions, logs and settings; API keys; secrets; the audit log.
import type { RouteObject } from "react-router";
import { Navigate } from "react-router";
import { AuditPage } from "./audit-page";
import { DeploymentCreatePage } from "./deployment-create";
import { DeploymentPage } from "./deployment-page";
import { DeploymentsPage } from "./deployments-page";
import { KeysPage } from "./keys-page";
import { LogsTab } from "./logs-tab";
import { OverviewTab } from "./overview-tab";
import { RevisionDetail } from "./revision-detail";
import { RevisionsTab } from "./revisions-tab";
import { SecretsPage } from "./secrets-page";
import { SettingsTab } from "./settings-tab";

/** /deployments, /deployments/new, /deployments/:deployment/{overview,revisions[/:id],logs,settings}, /keys, /secrets, /audit. */
export const platformRoutes: RouteObject[] = [
  { path: "deployments", element: <DeploymentsPage /> },
  { path: "deployments/new", element: <DeploymentCreatePage /> },
  {
    path: "deployments/:deployment",
    element: <DeploymentPage />,
    children: [
      { index: true, element: <Navigate to="overview" replace /> },
      { path: "overview", element: <OverviewTab /> },
      { path: "revisions", element: <RevisionsTab /> },
      { path: "revisions/:revisionId", element: <RevisionDetail /> },
      { path: "logs", element: <LogsTab /> },
      { path: "settings", element: <SettingsTab /> },
    ],
  },
  { path: "keys", element: <KeysPage /> },
  { path: "secrets", element: <SecretsPage /> },
  { path: "audit", element: <AuditPage /> },
];
