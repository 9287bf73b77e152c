import { createConnectQueryKey, useMutation, useQuery } from "@connectrpc/connect-query";
import { type ApiKey, Role } from "@langopen/gen/langopen/control/v1/api_key_pb";
import { ApiKeyService } from "@langopen/gen/langopen/control/v1/api_key_service_pb";
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useId, useRef, useState } from "react";
import { useSearchParams } from "react-router";
import { DataTable } from "../../components/data-table";
import { Page, Section } from "../../components/page";
import { QueryView } from "../../components/query-view";
import { Time } from "../../components/time";
import { ActionError } from "./action-error";
import { AskTwice } from "./ask-twice";
import { apiKeyClient } from "./clients";
import { ROLES, roleName } from "./format";
import { Modal } from "./modal";
import { useDeploymentChoices } from "./use-deployments";

/** A key just created: its secret part, held only until its dialog closes. */
interface CreatedKey {
  name: string;
  key: string;
}

/** The platform's API keys (?revoked=1 shows revoked ones too): create one, shown once; revoke one. */
export function KeysPage() {
  const [params, setParams] = useSearchParams();
  const includeRevoked = params.get("revoked") === "1";
  const revokedId = useId();
  const keys = useQuery(ApiKeyService.method.listApiKeys, { includeRevoked });
  const { nameOf } = useDeploymentChoices();
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<CreatedKey>();

  return (
    <Page
      title="API keys"
      subtitle="Who may call the platform and the deployments' APIs"
      actions={
        !creating && (
          <button type="button" className="button button-primary" onClick={() => setCreating(true)}>
            New key
          </button>
        )
      }
    >
      {creating && (
        <CreateKeyForm
          onCancel={() => setCreating(false)}
          onCreated={(key) => {
            setCreating(false);
            setCreated(key);
          }}
        />
      )}
      <div className="toolbar">
        <div className="checkbox">
          <input
            id={revokedId}
            type="checkbox"
            checked={includeRevoked}
            onChange={(event) => {
              const next = new URLSearchParams(params);
              if (event.target.checked) next.set("revoked", "1");
              else next.delete("revoked");
              setParams(next, { replace: true });
            }}
          />
          <label htmlFor={revokedId}>Show revoked keys</label>
        </div>
      </div>
      <QueryView query={keys} loading="Loading the keys…" errorContext="Could not load the API keys">
        {({ apiKeys }) =>
          apiKeys.length === 0 ? (
            <p className="empty">No keys.</p>
          ) : (
            <DataTable caption="API keys" columns={["Name", "Role", "Scope", "Prefix", "Created", "Last used", "Actions"]}>
              {apiKeys.map((apiKey) => (
                <tr key={apiKey.keyId} className={apiKey.revokeTime ? "row-revoked" : undefined}>
                  <th scope="row">
                    {apiKey.name}
                    {apiKey.revokeTime && (
                      <span className="badge badge-error key-revoked">
                        revoked <Time value={apiKey.revokeTime} />
                      </span>
                    )}
                  </th>
                  <td>{roleName(apiKey.role)}</td>
                  <td>
                    {apiKey.deploymentId ? (
                      (nameOf(apiKey.deploymentId) ?? <code>{apiKey.deploymentId}</code>)
                    ) : (
                      <span className="muted">all deployments</span>
                    )}
                  </td>
                  <td>
                    <code>{apiKey.prefix}…</code>
                  </td>
                  <td>
                    <Time value={apiKey.createTime} />
                  </td>
                  <td>{apiKey.lastUsedTime ? <Time value={apiKey.lastUsedTime} /> : <span className="muted">never</span>}</td>
                  <td>{!apiKey.revokeTime && <RevokeButton apiKey={apiKey} />}</td>
                </tr>
              ))}
            </DataTable>
          )
        }
      </QueryView>
      {created && <CreatedKeyDialog created={created} onClose={() => setCreated(undefined)} />}
    </Page>
  );
}

function CreateKeyForm({ onCancel, onCreated }: { onCancel: () => void; onCreated: (key: CreatedKey) => void }) {
  const queryClient = useQueryClient();
  const { deployments, query: deploymentsQuery } = useDeploymentChoices();
  const ids = { name: useId(), role: useId(), scope: useId(), scopeHint: useId() };
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>(Role.VIEWER);
  const [scope, setScope] = useState("");
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>();
  const nameInput = useRef<HTMLInputElement>(null);

  // The form opens on request: the caret goes to its first field.
  useEffect(() => nameInput.current?.focus(), []);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (name.trim() === "") return;
    setPending(true);
    setError(undefined);
    try {
      // Called directly, not through the query cache: the key must live only in the dialog's state.
      const response = await apiKeyClient.createApiKey({ name: name.trim(), role, deployment: scope });
      await queryClient.invalidateQueries({ queryKey: createConnectQueryKey({ schema: ApiKeyService, cardinality: undefined }) });
      onCreated({ name: response.apiKey?.name ?? name.trim(), key: response.key });
    } catch (caught) {
      setError(caught);
    } finally {
      setPending(false);
    }
  };

  return (
    <Section title="New key">
      <form className="platform-form" onSubmit={(event) => void submit(event)}>
        <div className="field">
          <label htmlFor={ids.name}>Name</label>
          <input
            ref={nameInput}
            id={ids.name}
            type="text"
            autoComplete="off"
            maxLength={100}
            required
            value={name}
            onChange={(event) => setName(event.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={ids.role}>Role</label>
          <select id={ids.role} value={role} onChange={(event) => setRole(Number(event.target.value))}>
            {ROLES.map((candidate) => (
              <option key={candidate.value} value={candidate.value}>
                {candidate.label}: {candidate.description}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.scope}>Deployment</label>
          <select
            id={ids.scope}
            value={scope}
            aria-describedby={ids.scopeHint}
            onChange={(event) => setScope(event.target.value)}
          >
            <option value="">All deployments</option>
            {deployments.map((deployment) => (
              <option key={deployment.deploymentId} value={deployment.deploymentId}>
                {deployment.name}
              </option>
            ))}
          </select>
          <p id={ids.scopeHint} className="hint">
            A key scoped to one deployment reaches only that deployment (its API and its settings).
            {deploymentsQuery.isError && " (The deployments could not be listed.)"}
          </p>
        </div>
        {error !== undefined && (
          <ActionError
            error={error}
            context="Could not create the key"
            needs="Creating keys needs an admin key; a key can only grant a role up to its own."
          />
        )}
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={pending || name.trim() === ""}>
            {pending ? "Creating…" : "Create key"}
          </button>
          <button type="button" className="button" onClick={onCancel}>
            Cancel
          </button>
        </div>
      </form>
    </Section>
  );
}

/** The new key, shown this once, with a copy button. */
function CreatedKeyDialog({ created, onClose }: { created: CreatedKey; onClose: () => void }) {
  const input = useRef<HTMLInputElement>(null);
  const warningId = useId();
  const inputId = useId();
  const [copy, setCopy] = useState<"idle" | "copied" | "failed">("idle");
  const copyKey = async () => {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopy("copied");
    } catch {
      // No clipboard (an insecure page, a refused permission): the key is selected for a manual copy.
      input.current?.select();
      setCopy("failed");
    }
  };
  return (
    <Modal title={`Key "${created.name}" created`} onClose={onClose} describedBy={warningId}>
      <p id={warningId} className="key-warning" role="alert">
        Copy the key now: it is shown only this once. The platform keeps only its hash and cannot show it again.
      </p>
      <div className="field">
        <label htmlFor={inputId}>API key</label>
        <div className="key-copy">
          <input
            ref={input}
            id={inputId}
            type="text"
            className="code-input"
            readOnly
            value={created.key}
            onFocus={(event) => event.target.select()}
          />
          <button type="button" className="button" onClick={() => void copyKey()}>
            {copy === "copied" ? "Copied" : "Copy"}
          </button>
        </div>
        <p className="hint" role="status">
          {copy === "copied"
            ? "Copied to the clipboard."
            : copy === "failed"
              ? "Could not copy: the key is selected, copy it with Ctrl+C."
              : ""}
        </p>
      </div>
      <div className="form-actions">
        <button type="button" className="button button-primary" onClick={onClose}>
          Done
        </button>
      </div>
    </Modal>
  );
}

function RevokeButton({ apiKey }: { apiKey: ApiKey }) {
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const revoke = useMutation(ApiKeyService.method.revokeApiKey, {
    onSuccess: async () => {
      setConfirming(false);
      await queryClient.invalidateQueries({ queryKey: createConnectQueryKey({ schema: ApiKeyService, cardinality: undefined }) });
    },
  });
  return (
    <div className="row-actions">
      <AskTwice
        asking={confirming}
        onAsk={() => {
          revoke.reset();
          setConfirming(true);
        }}
        onCancel={() => setConfirming(false)}
        label={
          <>
            Revoke<span className="visually-hidden"> {apiKey.name}</span>
          </>
        }
        question={<>Revoke "{apiKey.name}"? Calls with it are refused from now on.</>}
        confirmLabel="Yes, revoke"
        pendingLabel="Revoking…"
        pending={revoke.isPending}
        onConfirm={() => revoke.mutate({ keyId: apiKey.keyId })}
        tone="danger"
      />
      {revoke.isError && (
        <ActionError error={revoke.error} context="Could not revoke the key" needs="Revoking keys needs an admin key." />
      )}
    </div>
  );
}
