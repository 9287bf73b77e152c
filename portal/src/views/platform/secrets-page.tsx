import { createConnectQueryKey, useMutation, useQuery } from "@connectrpc/connect-query";
import { DeploymentService } from "@langopen/gen/langopen/control/v1/deployment_service_pb";
import { type Secret, SecretService } from "@langopen/gen/langopen/control/v1/secret_service_pb";
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useId, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { DataTable } from "../../components/data-table";
import { ErrorBox } from "../../components/error-box";
import { Loading } from "../../components/loading";
import { Page, Section } from "../../components/page";
import { QueryView } from "../../components/query-view";
import { Time } from "../../components/time";
import { ActionError } from "./action-error";
import { AskTwice } from "./ask-twice";
import { secretClient } from "./clients";
import { deploymentPath } from "./deployment-context";
import { CodeField } from "./form-fields";
import { VARIABLE_NAME } from "./format";
import { useDeploymentChoices } from "./use-deployments";

/**
 * A deployment's secrets (?deployment=, by name): their names only, never their values; set one
 * (the value typed in a password field, cleared once saved) or unset one. Each change redeploys.
 */
export function SecretsPage() {
  const [params, setParams] = useSearchParams();
  const { deployments, query: choices } = useDeploymentChoices();
  const chosen = params.get("deployment") ?? "";
  const deployment = chosen || deployments[0]?.name || "";
  const selectId = useId();

  return (
    <Page title="Secrets" subtitle="Encrypted at rest, given only to the deployment's graphs; values are never shown">
      <div className="toolbar">
        <div className="field">
          <label htmlFor={selectId}>Deployment</label>
          <select
            id={selectId}
            value={deployment}
            disabled={choices.isPending}
            onChange={(event) => {
              const next = new URLSearchParams(params);
              next.set("deployment", event.target.value);
              setParams(next);
            }}
          >
            {deployment === "" && <option value="">—</option>}
            {chosen && !deployments.some((candidate) => candidate.name === chosen) && <option value={chosen}>{chosen}</option>}
            {deployments.map((candidate) => (
              <option key={candidate.deploymentId} value={candidate.name}>
                {candidate.name}
              </option>
            ))}
          </select>
        </div>
        {deployment && (
          <Link to={deploymentPath(deployment, "overview")} className="toolbar-link">
            Open {deployment}
          </Link>
        )}
      </div>
      {choices.isPending ? (
        <Loading label="Loading deployments…" />
      ) : choices.isError && !chosen ? (
        <ErrorBox error={choices.error} context="Could not list the deployments" onRetry={() => void choices.refetch()} />
      ) : deployment === "" ? (
        <p className="empty">
          Secrets belong to a deployment, and there is none yet. <Link to="/deployments/new">Create one</Link>.
        </p>
      ) : (
        <DeploymentSecrets key={deployment} deployment={deployment} />
      )}
    </Page>
  );
}

function DeploymentSecrets({ deployment }: { deployment: string }) {
  const secrets = useQuery(SecretService.method.listSecrets, { deployment });
  return (
    <>
      <SetSecretForm deployment={deployment} />
      <Section title={`Secrets of ${deployment}`}>
        <QueryView query={secrets} loading="Loading the secrets…" errorContext="Could not load the secrets">
          {({ secrets: list }) =>
            list.length === 0 ? (
              <p className="empty">No secrets.</p>
            ) : (
              <DataTable caption={<>Secrets of {deployment}</>} columns={["Name", "Updated", "Actions"]}>
                {list.map((secret) => (
                  <tr key={secret.name}>
                    <th scope="row">
                      <code>{secret.name}</code>
                    </th>
                    <td>
                      <Time value={secret.updateTime} />
                    </td>
                    <td>
                      <UnsetButton deployment={deployment} secret={secret} />
                    </td>
                  </tr>
                ))}
              </DataTable>
            )
          }
        </QueryView>
      </Section>
    </>
  );
}

const invalidateSecrets = (queryClient: ReturnType<typeof useQueryClient>) =>
  Promise.all([
    queryClient.invalidateQueries({ queryKey: createConnectQueryKey({ schema: SecretService, cardinality: undefined }) }),
    // The deployment lists its secrets' names, and a change redeploys it.
    queryClient.invalidateQueries({ queryKey: createConnectQueryKey({ schema: DeploymentService, cardinality: undefined }) }),
  ]);

function SetSecretForm({ deployment }: { deployment: string }) {
  const queryClient = useQueryClient();
  const ids = { value: useId(), valueHint: useId() };
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [saved, setSaved] = useState<string>();
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>();
  const nameProblem = name !== "" && !VARIABLE_NAME.test(name);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (name === "" || nameProblem) return;
    setSaved(undefined);
    setError(undefined);
    setPending(true);
    try {
      // Called directly, not as a cached mutation: the value is kept nowhere once sent.
      const response = await secretClient.setSecret({ deployment, name, value });
      // The value leaves the page as soon as the platform has it.
      setValue("");
      setName("");
      setSaved(response.secret?.name ?? name);
      await invalidateSecrets(queryClient);
    } catch (caught) {
      setError(caught);
    } finally {
      setPending(false);
    }
  };
  return (
    <Section title="Set a secret">
      <form className="platform-form secret-form" onSubmit={(event) => void submit(event)} autoComplete="off">
        <CodeField
          label="Name"
          placeholder="OPENAI_API_KEY"
          required
          value={name}
          onChange={setName}
          hint="The environment variable the graphs read it from. An existing secret of that name is replaced."
          problem={nameProblem ? "Letters, digits and underscores, not starting with a digit." : undefined}
        />
        <div className="field">
          <label htmlFor={ids.value}>Value</label>
          <input
            id={ids.value}
            type="password"
            autoComplete="new-password"
            spellCheck={false}
            value={value}
            aria-describedby={ids.valueHint}
            onChange={(event) => setValue(event.target.value)}
          />
          <p id={ids.valueHint} className="hint">
            Never shown again once saved. Saving redeploys the serving revision with it.
          </p>
        </div>
        {error !== undefined && (
          <ActionError error={error} context="Could not set the secret" needs="Setting secrets needs a developer or admin key." />
        )}
        {saved && (
          <p className="form-success" role="status">
            Saved {saved}.
          </p>
        )}
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={pending || name === "" || nameProblem}>
            {pending ? "Saving…" : "Save secret"}
          </button>
        </div>
      </form>
    </Section>
  );
}

function UnsetButton({ deployment, secret }: { deployment: string; secret: Secret }) {
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const unset = useMutation(SecretService.method.unsetSecret, {
    onSuccess: async () => {
      setConfirming(false);
      await invalidateSecrets(queryClient);
    },
  });
  return (
    <div className="row-actions">
      <AskTwice
        asking={confirming}
        onAsk={() => {
          unset.reset();
          setConfirming(true);
        }}
        onCancel={() => setConfirming(false)}
        label={
          <>
            Unset<span className="visually-hidden"> {secret.name}</span>
          </>
        }
        question={<>Unset {secret.name}? The deployment is redeployed without it.</>}
        confirmLabel="Yes, unset"
        pendingLabel="Unsetting…"
        pending={unset.isPending}
        onConfirm={() => unset.mutate({ deployment, name: secret.name })}
        tone="danger"
      />
      {unset.isError && (
        <ActionError
          error={unset.error}
          context="Could not unset the secret"
          needs="Unsetting secrets needs a developer or admin key."
        />
      )}
    </div>
  );
}
