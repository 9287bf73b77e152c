// The app: providers (queries, transport), the router, and the shell every page renders in. The
// server's mode (/portal/config.json) chooses the pages: one deployment's agents, or the
// platform's deployments, keys, secrets and audit log.
import { TransportProvider } from "@connectrpc/connect-query";
import { QueryClient, QueryClientProvider, useQueryClient } from "@tanstack/react-query";
import { Suspense, use, useEffect, useRef, useState } from "react";
import {
  createBrowserRouter,
  isRouteErrorResponse,
  Link,
  Navigate,
  NavLink,
  Outlet,
  type RouteObject,
  useLocation,
  useRouteError,
} from "react-router";
import { RouterProvider } from "react-router/dom";
import { LoginDialog } from "./auth/login-form";
import { signOut, useSession } from "./auth/session";
import { ErrorBox } from "./components/error-box";
import { Loading } from "./components/loading";
import { Page } from "./components/page";
import { isTransient } from "./lib/errors";
import { loadMode, type PortalMode } from "./lib/mode";
import { transport } from "./rpc";
import { assistantRoutes } from "./views/assistants/routes";
import { dataRoutes } from "./views/data-routes";
import { platformRoutes } from "./views/platform/routes";

interface NavItem {
  to: string;
  label: string;
}

/** Each mode's pages: the main navigation, and where "/" and the brand lead. */
const MODES: Record<PortalMode, { nav: NavItem[]; home: string; homeLabel: string; routes: RouteObject[] }> = {
  deployment: {
    nav: [
      { to: "/assistants", label: "Assistants" },
      { to: "/threads", label: "Threads" },
      { to: "/interrupts", label: "Interrupts" },
      { to: "/store", label: "Store" },
      { to: "/crons", label: "Crons" },
      { to: "/webhooks", label: "Webhooks" },
    ],
    home: "/assistants",
    homeLabel: "Go to the assistants",
    routes: [...assistantRoutes, ...dataRoutes],
  },
  platform: {
    nav: [
      { to: "/deployments", label: "Deployments" },
      { to: "/keys", label: "API keys" },
      { to: "/secrets", label: "Secrets" },
      { to: "/audit", label: "Audit log" },
    ],
    home: "/deployments",
    homeLabel: "Go to the deployments",
    routes: platformRoutes,
  },
};

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // A refused or invalid request fails the same way again: only the network is worth retrying.
      retry: (failures, error) => failures < 2 && isTransient(error),
      staleTime: 5_000,
      refetchOnWindowFocus: false,
    },
  },
});

function Shell({ mode }: { mode: PortalMode }) {
  const { nav, home } = MODES[mode];
  const { apiKey, prompt } = useSession();
  const client = useQueryClient();
  const location = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const previousKey = useRef(apiKey);

  // The narrow layout's menu closes once a page is chosen.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on navigation
  useEffect(() => setMenuOpen(false), [location.pathname]);

  // Calls waiting on the login form retry by themselves; those already failed for want of a key go again.
  useEffect(() => {
    if (apiKey !== null && apiKey !== previousKey.current) {
      void client.refetchQueries({ predicate: (query) => query.state.status === "error" });
    }
    previousKey.current = apiKey;
  }, [apiKey, client]);

  const leave = () => {
    signOut();
    // What was read with the key must not stay on screen without it.
    void client.resetQueries();
  };

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="sidebar">
        <div className="brand-row">
          <Link to={home} className="brand">
            <img src={`${import.meta.env.BASE_URL}favicon.svg`} alt="" width={24} height={24} />
            LangOpen
          </Link>
          <button
            type="button"
            className="button menu-button"
            aria-expanded={menuOpen}
            aria-controls="primary-nav"
            onClick={() => setMenuOpen(!menuOpen)}
          >
            Menu
          </button>
        </div>
        <nav id="primary-nav" aria-label="Main" className={menuOpen ? "nav nav-open" : "nav"}>
          <ul>
            {nav.map((item) => (
              <li key={item.to}>
                <NavLink to={item.to} className="nav-link">
                  {item.label}
                </NavLink>
              </li>
            ))}
          </ul>
          {apiKey !== null && (
            <div className="nav-footer">
              <button type="button" className="button" onClick={leave}>
                Sign out
              </button>
            </div>
          )}
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
      {prompt && <LoginDialog key={prompt.reason} prompt={prompt} />}
    </div>
  );
}

function NotFound({ mode }: { mode: PortalMode }) {
  const { home, homeLabel } = MODES[mode];
  return (
    <Page title="Page not found">
      <p>
        There is no page at this address. <Link to={home}>{homeLabel}</Link>.
      </p>
    </Page>
  );
}

/** What a page shows when rendering it threw: the error, inside the shell. */
function RouteError({ mode }: { mode: PortalMode }) {
  const error = useRouteError();
  if (isRouteErrorResponse(error) && error.status === 404) return <NotFound mode={mode} />;
  return (
    <Page title="This page failed">
      <ErrorBox error={error} onRetry={() => window.location.reload()} />
    </Page>
  );
}

function createRouter(mode: PortalMode) {
  const { home, routes } = MODES[mode];
  return createBrowserRouter(
    [
      {
        path: "/",
        element: <Shell mode={mode} />,
        children: [
          {
            errorElement: <RouteError mode={mode} />,
            children: [
              { index: true, element: <Navigate to={home} replace /> },
              ...routes,
              { path: "*", element: <NotFound mode={mode} /> },
            ],
          },
        ],
      },
    ],
    { basename: "/portal" },
  );
}

// Asked for as the app loads: by its first render, the answer is usually there.
void loadMode();

/** One router per mode, made when first needed (the mode does not change while the app runs). */
const routers = new Map<PortalMode, ReturnType<typeof createRouter>>();

function ModeRouter() {
  const mode = use(loadMode());
  let router = routers.get(mode);
  if (!router) {
    router = createRouter(mode);
    routers.set(mode, router);
  }
  return <RouterProvider router={router} />;
}

export function App() {
  return (
    <TransportProvider transport={transport}>
      <QueryClientProvider client={queryClient}>
        <Suspense fallback={<Loading label="Starting the portal…" />}>
          <ModeRouter />
        </Suspense>
      </QueryClientProvider>
    </TransportProvider>
  );
}
