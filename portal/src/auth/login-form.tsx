import { type FormEvent, useEffect, useId, useRef, useState } from "react";
import { loadOidcSettings, type OidcSettings, startOidcSignIn } from "./oidc";
import { CREDENTIAL_NAMES, type CredentialKind, dismissLogin, getSession, type LoginPrompt, signIn } from "./session";

const KINDS: Array<{ kind: CredentialKind; label: string; hint: string }> = [
  { kind: "api-key", label: "API key", hint: "sent as the x-api-key header" },
  { kind: "bearer", label: "Bearer token", hint: "sent as Authorization: Bearer, for a project's custom auth" },
];

/**
 * Asks for a credential when the server refused a call for want of one: an API key, or a bearer
 * token. The calls that were refused wait and are sent again on sign-in.
 */
export function LoginDialog({ prompt }: { prompt: LoginPrompt }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [secret, setSecret] = useState("");
  const [kind, setKind] = useState<CredentialKind>(prompt.refused ?? getSession().kind);
  const inputId = useId();
  const hintId = useId();
  const [oidc, setOidc] = useState<OidcSettings | undefined>();
  const [leaving, setLeaving] = useState(false);

  useEffect(() => {
    let live = true;
    void loadOidcSettings().then((settings) => {
      if (live) setOidc(settings);
    });
    return () => {
      live = false;
    };
  }, []);

  const withProvider = () => {
    if (!oidc) return;
    setLeaving(true);
    const here = `${window.location.pathname}${window.location.search}`;
    void startOidcSignIn(oidc, here).catch(() => setLeaving(false));
  };

  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
    return () => element?.close();
  }, []);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const value = secret.trim();
    if (value) signIn(value, kind);
  };

  const label = KINDS.find((option) => option.kind === kind)?.label ?? "API key";
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
            ? `The server did not accept that ${CREDENTIAL_NAMES[prompt.refused ?? "api-key"]}. Check it and try again.`
            : "This server requires a sign-in. What you give is kept in this browser tab only, until you sign out or close the tab."}
        </p>
        {oidc && (
          <div className="login-oidc">
            <button type="button" className="button button-primary" onClick={withProvider} disabled={leaving}>
              Sign in with {new URL(oidc.issuer).host}
            </button>
            <p className="muted">Or give a key or a token:</p>
          </div>
        )}
        <fieldset className="login-kinds">
          <legend>Sign in with</legend>
          {KINDS.map((option) => (
            <div key={option.kind} className="checkbox">
              <input
                id={`${inputId}-${option.kind}`}
                type="radio"
                name={`${inputId}-kind`}
                checked={kind === option.kind}
                onChange={() => setKind(option.kind)}
              />
              <label htmlFor={`${inputId}-${option.kind}`}>
                {option.label} <span className="login-kind-hint">— {option.hint}</span>
              </label>
            </div>
          ))}
        </fieldset>
        <label htmlFor={inputId}>{label}</label>
        <input
          id={inputId}
          type="password"
          autoComplete="off"
          autoFocus
          value={secret}
          aria-describedby={hintId}
          onChange={(event) => setSecret(event.target.value)}
        />
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={secret.trim() === ""}>
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
