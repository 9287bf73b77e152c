import type { MessageInitShape } from "@bufbuild/protobuf";
import { createConnectQueryKey, useMutation } from "@connectrpc/connect-query";
import { SandboxProfile } from "@langopen/gen/langopen/control/v1/deployment_pb";
import { DeploymentService, type UpdateDeploymentRequestSchema } from "@langopen/gen/langopen/control/v1/deployment_service_pb";
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { Link, useNavigate } from "react-router";
import { Section } from "../../components/page";
import { ActionError } from "./action-error";
import { DeleteDeploymentDialog } from "./delete-deployment";
import { useDeploymentContext } from "./deployment-context";
import { ArchiveField, CodeField, MAX_UPLOAD_BYTES, SandboxSelect } from "./form-fields";
import { formatBytes, sandboxName } from "./format";
import { KeyValueEditor, type Pair, pairProblems, pairsOf, recordOf } from "./key-value-editor";
import { ResourcesFields, type ResourcesText, resourcesOf, resourcesText } from "./resources-fields";

function sameRecord(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => key in b && a[key] === b[key]);
}

/**
 * What UpdateDeployment changes: the source's ref and config path (a new build), the variables,
 * resources and sandbox (a redeploy of the current bundle). Secrets are set on the Secrets page.
 * And deleting the deployment.
 */
export function SettingsTab() {
  const { deployment } = useDeploymentContext();
  const navigate = useNavigate();
  const [deleting, setDeleting] = useState(false);
  return (
    <>
      <SettingsForm />
      <Section title="Secrets">
        <p>
          {deployment.secretNames.length > 0 ? (
            <>
              Its secrets:{" "}
              {deployment.secretNames.map((name) => (
                <code key={name}>{name} </code>
              ))}
              .{" "}
            </>
          ) : (
            "It has no secrets. "
          )}
          <Link to={`/secrets?deployment=${encodeURIComponent(deployment.name)}`}>Set or unset secrets</Link>
        </p>
      </Section>
      <Section title="Delete">
        <p>Stops its data plane and drops its database. This cannot be undone.</p>
        <button type="button" className="button button-danger" onClick={() => setDeleting(true)}>
          Delete {deployment.name}…
        </button>
      </Section>
      {deleting && (
        <DeleteDeploymentDialog
          deployment={deployment}
          onClose={() => setDeleting(false)}
          onDeleted={() => navigate("/deployments", { replace: true })}
        />
      )}
    </>
  );
}

function SettingsForm() {
  const { deployment, refresh } = useDeploymentContext();
  const queryClient = useQueryClient();
  const source = deployment.source;
  const git = source?.kind.case === "git" ? source.kind.value : undefined;
  const [ref, setRef] = useState(git?.ref ?? "");
  const [configPath, setConfigPath] = useState(source?.configPath ?? "");
  const [env, setEnv] = useState<Pair[]>(() => pairsOf(deployment.env));
  const [resources, setResources] = useState<ResourcesText>(() => resourcesText(deployment.resources));
  const [sandbox, setSandbox] = useState<SandboxProfile>(deployment.sandbox);
  const [tarball, setTarball] = useState<File>();
  const [problem, setProblem] = useState<string>();

  const update = useMutation(DeploymentService.method.updateDeployment, {
    onSuccess: async () => {
      refresh();
      await queryClient.invalidateQueries({
        queryKey: createConnectQueryKey({ schema: DeploymentService, cardinality: undefined }),
      });
    },
  });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(undefined);
    if (pairProblems(env).size > 0) return setProblem("Fix the names of the variables.");
    const parsed = resourcesOf(resources);
    if (!parsed.ok) return setProblem(parsed.error);
    if (tarball && tarball.size > MAX_UPLOAD_BYTES)
      return setProblem(`The file is ${formatBytes(tarball.size)}: the portal uploads at most ${formatBytes(MAX_UPLOAD_BYTES)}.`);
    const request: MessageInitShape<typeof UpdateDeploymentRequestSchema> = { deployment: deployment.deploymentId };
    if (git && ref.trim() !== git.ref) request.ref = ref.trim();
    if (configPath.trim() !== (source?.configPath ?? "")) request.configPath = configPath.trim();
    const variables = recordOf(env);
    if (!sameRecord(variables, deployment.env)) {
      request.env = variables;
      request.setEnv = true;
    }
    const current = deployment.resources;
    const next = parsed.value;
    if (
      (next.runtimeProcesses ?? 0) !== (current?.runtimeProcesses ?? 0) ||
      (next.workerConcurrency ?? 0) !== (current?.workerConcurrency ?? 0) ||
      (next.runtimeMemoryMb ?? 0) !== (current?.runtimeMemoryMb ?? 0)
    )
      request.resources = next;
    if (sandbox !== deployment.sandbox) request.sandbox = sandbox;
    if (tarball) request.tarball = new Uint8Array(await tarball.arrayBuffer());
    if (Object.keys(request).length === 1) return setProblem("Nothing changed.");
    update.mutate(request);
  };

  return (
    <Section title="Settings">
      <form className="platform-form" onSubmit={(event) => void submit(event)}>
        <p className="form-intro muted">
          A new ref, config path or upload builds a new revision; other changes redeploy the current bundle.
        </p>
        {git && (
          <>
            <div className="field">
              <span className="field-label">Git URL</span>
              <code>{git.url}</code>
            </div>
            <CodeField label="Ref" placeholder="the default branch" value={ref} onChange={setRef} />
          </>
        )}
        {source?.kind.case === "tarball" && <ArchiveField label="New upload (.tar.gz)" onChange={setTarball} />}
        <CodeField label="Config path" placeholder="langgraph.json" value={configPath} onChange={setConfigPath} />
        <SandboxSelect
          value={sandbox}
          onChange={setSandbox}
          unspecified={sandbox === SandboxProfile.UNSPECIFIED ? sandboxName(SandboxProfile.UNSPECIFIED) : undefined}
        />
        <fieldset>
          <legend>Resources</legend>
          <ResourcesFields value={resources} onChange={setResources} />
        </fieldset>
        <KeyValueEditor
          legend="Variables"
          noun="variable"
          pairs={env}
          onChange={setEnv}
          hint="Replaces all of the deployment's variables when saved."
        />
        {problem && (
          <p className="form-error" role="alert">
            {problem}
          </p>
        )}
        {update.isError && (
          <ActionError
            error={update.error}
            context="Could not save the settings"
            needs="Changing a deployment needs a developer or admin key."
          />
        )}
        {update.isSuccess && (
          <p className="form-success" role="status">
            Saved: revision {update.data.revision?.number}{" "}
            {update.data.revision?.redeployOf ? "redeploys the current bundle" : "builds the source"}.
          </p>
        )}
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={update.isPending}>
            {update.isPending ? "Saving…" : "Save settings"}
          </button>
        </div>
      </form>
    </Section>
  );
}
