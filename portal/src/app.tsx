// The app: providers (queries, transport), the router, and the shell every page renders in.
import { TransportProvider } from "@connectrpc/connect-query";
import { QueryClient, QueryClientProvider, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import {
  createBrowserRouter,
  isRouteErrorResponse,
  Link,
  Navigate,
  NavLink,
  Outlet,
  useLocation,
  useRouteError,
} from "react-router";
import { RouterProvider } from "react-router/dom";
import { LoginDialog } from "./auth/login-form";
import { signOut, useSession } from "./auth/session";
import { ErrorBox } from "./components/error-box";
import { Page } from "./components/page";
import { isTransient } from "./lib/errors";
import { transport } from "./rpc";
import { assistantRoutes } from "./views/assistants/routes";
import { dataRoutes } from "./views/data-routes";

const NAV = [
  { to: "/assistants", label: "Assistants" },
  { to: "/threads", label: "Threads" },
  { to: "/interrupts", label: "Interrupts" },
  { to: "/store", label: "Store" },
  { to: "/crons", label: "Crons" },
  { to: "/webhooks", label: "Webhooks" },
];

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

function Shell() {
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
          <Link to="/assistants" className="brand">
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
            {NAV.map((item) => (
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

function NotFound() {
  return (
    <Page title="Page not found">
      <p>
        There is no page at this address. <Link to="/assistants">Go to the assistants</Link>.
      </p>
    </Page>
  );
}

/** What a page shows when rendering it threw: the error, inside the shell. */
function RouteError() {
  const error = useRouteError();
  if (isRouteErrorResponse(error) && error.status === 404) return <NotFound />;
  return (
    <Page title="This page failed">
      <ErrorBox error={error} onRetry={() => window.location.reload()} />
    </Page>
  );
}

const router = createBrowserRouter(
  [
    {
      path: "/",
      element: <Shell />,
      children: [
        {
          errorElement: <RouteError />,
          children: [
            { index: true, element: <Navigate to="/assistants" replace /> },
            ...assistantRoutes,
            ...dataRoutes,
            { path: "*", element: <NotFound /> },
          ],
        },
      ],
    },
  ],
  { basename: "/portal" },
);

export function App() {
  return (
    <TransportProvider transport={transport}>
      <QueryClientProvider client={queryClient}>
        <RouterProvider router={router} />
      </QueryClientProvider>
    </TransportProvider>
  );
}
