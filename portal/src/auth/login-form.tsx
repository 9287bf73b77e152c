import { type FormEvent, useEffect, useId, useRef, useState } from "react";
import { dismissLogin, type LoginPrompt, signIn } from "./session";

/**
 * Asks for an API key when the server refused a call for want of one. The calls that were
 * refused wait and are sent again on sign-in. (OIDC will add a "Sign in with …" button here.)
 */
export function LoginDialog({ prompt }: { prompt: LoginPrompt }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [apiKey, setApiKey] = useState("");
  const inputId = useId();
  const hintId = useId();

  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
    return () => element?.close();
  }, []);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const key = apiKey.trim();
    if (key) signIn(key);
  };

  return (
    <dialog
      ref={dialog}
      className="login-dialog"
      aria-labelledby={`${inputId}-title`}
      onCancel={(event) => {
        event.preventDefault();
        dismissLogin();
      }}
    >
      <form onSubmit={submit}>
        <h2 id={`${inputId}-title`}>Sign in</h2>
        <p id={hintId} className={prompt.reason === "rejected" ? "form-error" : "muted"}>
          {prompt.reason === "rejected"
            ? "The server did not accept that API key. Check it and try again."
            : "This server requires an API key. It is kept in this browser tab only, until you sign out or close the tab."}
        </p>
        <label htmlFor={inputId}>API key</label>
        <input
          id={inputId}
          type="password"
          autoComplete="off"
          autoFocus
          value={apiKey}
          aria-describedby={hintId}
          onChange={(event) => setApiKey(event.target.value)}
        />
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={apiKey.trim() === ""}>
            Sign in
          </button>
          <button type="button" className="button" onClick={dismissLogin}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}
