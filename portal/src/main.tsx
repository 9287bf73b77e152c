import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./app";
import { CALLBACK_PATH, completeOidcSignIn } from "./auth/oidc";
import { loadConfig } from "./lib/mode";
import "./styles.css";

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root element");

/** Back from the OIDC provider: finish the sign-in before the app asks for anything. */
async function finishSignIn(): Promise<string | undefined> {
  if (window.location.pathname !== CALLBACK_PATH) return undefined;
  try {
    window.history.replaceState(null, "", await completeOidcSignIn());
    return undefined;
  } catch (err) {
    window.history.replaceState(null, "", import.meta.env.BASE_URL);
    return `Signing in with OpenID Connect failed: ${(err as Error).message}`;
  }
}

// The server's config is read before the first render: the app's routes depend on it, and
// rendering first would show a loading screen that React then keeps up for a while.
void Promise.all([finishSignIn(), loadConfig().catch(() => undefined)]).then(([failure]) => {
  createRoot(root).render(
    <StrictMode>
      {failure && (
        <p role="alert" className="form-error oidc-failure">
          {failure}
        </p>
      )}
      <App />
    </StrictMode>,
  );
});
