import type { MessageInitShape } from "@bufbuild/protobuf";
import { createConnectQueryKey } from "@connectrpc/connect-query";
import { SandboxProfile } from "@langopen/gen/langopen/control/v1/deployment_pb";
import { type CreateDeploymentRequestSchema, DeploymentService } from "@langopen/gen/langopen/control/v1/deployment_service_pb";
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useId, useState } from "react";
import { Link, useNavigate } from "react-router";
import { Page } from "../../components/page";
import { ActionError } from "./action-error";
import { deploymentClient } from "./clients";
import { deploymentPath } from "./deployment-context";
import { ArchiveField, CodeField, MAX_UPLOAD_BYTES, SandboxSelect } from "./form-fields";
import { DEPLOYMENT_NAME, formatBytes } from "./format";
import { KeyValueEditor, type Pair, pairProblems, recordOf } from "./key-value-editor";
import { ResourcesFields, type ResourcesText, resourcesOf } from "./resources-fields";

/** A form for CreateDeployment: a name, a git repository (or an uploaded tarball), settings, variables and secrets. */
export function DeploymentCreatePage() {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const ids = {
    kindGit: useId(),
    kindTarball: useId(),
    replicas: useId(),
  };
  const [name, setName] = useState("");
  const [kind, setKind] = useState<"git" | "tarball">("git");
  const [url, setUrl] = useState("");
  const [ref, setRef] = useState("");
  const [configPath, setConfigPath] = useState("");
  const [tarball, setTarball] = useState<File>();
  const [sandbox, setSandbox] = useState<SandboxProfile>(SandboxProfile.UNSPECIFIED);
  const [replicas, setReplicas] = useState("");
  const [resources, setResources] = useState<ResourcesText>({ runtimeProcesses: "", workerConcurrency: "", runtimeMemoryMb: "" });
  const [env, setEnv] = useState<Pair[]>([]);
  const [secrets, setSecrets] = useState<Pair[]>([]);
  const [problem, setProblem] = useState<string>();
  const [tried, setTried] = useState(false);

  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>();
  const nameProblem =
    name === ""
      ? "Give the deployment a name."
      : DEPLOYMENT_NAME.test(name)
        ? undefined
        : "Use 1-63 lower-case letters, digits and dashes, starting and ending with a letter or digit.";
  const urlProblem = kind === "git" && url.trim() === "" ? "Give the repository's URL." : undefined;
  const tarballProblem =
    kind === "tarball"
      ? tarball === undefined
        ? "Choose the project's .tar.gz."
        : tarball.size > MAX_UPLOAD_BYTES
          ? `The file is ${formatBytes(tarball.size)}: the portal uploads at most ${formatBytes(MAX_UPLOAD_BYTES)}.`
          : undefined
      : undefined;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setTried(true);
    setProblem(undefined);
    if (nameProblem || urlProblem || tarballProblem) return;
    if (pairProblems(env).size > 0 || pairProblems(secrets).size > 0)
      return setProblem("Fix the names of the variables and secrets.");
    const variables = recordOf(env);
    const secretValues = recordOf(secrets);
    const both = Object.keys(secretValues).filter((key) => key in variables);
    if (both.length > 0) return setProblem(`${both.join(", ")} cannot be both a variable and a secret.`);
    const parsed = resourcesOf(resources);
    if (!parsed.ok) return setProblem(parsed.error);
    const replicaCount = replicas.trim() === "" ? 0 : Number(replicas);
    if (!Number.isInteger(replicaCount) || replicaCount < 0 || replicaCount > 100)
      return setProblem("Replicas must be a whole number from 1 to 100.");
    const bytes = kind === "tarball" && tarball ? new Uint8Array(await tarball.arrayBuffer()) : undefined;
    setPending(true);
    setError(undefined);
    // Called directly, not as a cached mutation: the secrets' values are kept nowhere once sent.
    const request: MessageInitShape<typeof CreateDeploymentRequestSchema> = {
      name,
      source: {
        configPath: configPath.trim(),
        kind:
          kind === "git"
            ? { case: "git", value: { url: url.trim(), ref: ref.trim() } }
            : { case: "tarball", value: { size: BigInt(bytes?.length ?? 0) } },
      },
      tarball: bytes,
      env: variables,
      secrets: Object.entries(secretValues).map(([secretName, value]) => ({ name: secretName, value })),
      resources: parsed.value,
      replicas: replicaCount,
      sandbox,
    };
    try {
      const response = await deploymentClient.createDeployment(request);
      await queryClient.invalidateQueries({
        queryKey: createConnectQueryKey({ schema: DeploymentService, cardinality: undefined }),
      });
      // The first revision builds now: its log is what there is to watch.
      navigate(deploymentPath(response.deployment?.name ?? name, "logs"));
    } catch (caught) {
      setError(caught);
      setPending(false);
    }
  };

  return (
    <Page
      title="New deployment"
      subtitle={
        <span>
          <Link to="/deployments">Deployments</Link> · builds its first revision at once
        </span>
      }
    >
      <form className="platform-form" onSubmit={(event) => void submit(event)} noValidate>
        <CodeField
          label="Name"
          required
          value={name}
          onChange={setName}
          hint="Lower-case letters, digits and dashes; part of its URL and unique."
          problem={tried ? nameProblem : undefined}
        />

        <fieldset>
          <legend>Source</legend>
          <div className="checkbox">
            <input id={ids.kindGit} type="radio" name="source-kind" checked={kind === "git"} onChange={() => setKind("git")} />
            <label htmlFor={ids.kindGit}>A git repository</label>
          </div>
          <div className="checkbox">
            <input
              id={ids.kindTarball}
              type="radio"
              name="source-kind"
              checked={kind === "tarball"}
              onChange={() => setKind("tarball")}
            />
            <label htmlFor={ids.kindTarball}>An uploaded project (.tar.gz)</label>
          </div>
          {kind === "git" ? (
            <>
              <CodeField
                label="Git URL"
                inputMode="url"
                placeholder="https://github.com/acme/agents.git"
                required
                value={url}
                onChange={setUrl}
                problem={tried ? urlProblem : undefined}
              />
              <CodeField
                label="Ref"
                placeholder="main"
                value={ref}
                onChange={setRef}
                hint="A branch, tag or commit; empty: the repository's default branch."
              />
            </>
          ) : (
            <ArchiveField
              label="Project archive"
              onChange={setTarball}
              hint={<>The project as a gzipped tar, up to {formatBytes(MAX_UPLOAD_BYTES)} from the portal.</>}
              problem={tried ? tarballProblem : undefined}
            />
          )}
          <CodeField
            label="Config path"
            placeholder="langgraph.json"
            value={configPath}
            onChange={setConfigPath}
            hint="The langgraph.json inside the source; empty: langgraph.json at its root."
          />
        </fieldset>

        <fieldset>
          <legend>Runtime</legend>
          <SandboxSelect value={sandbox} onChange={setSandbox} unspecified="The platform's default" />
          <div className="field">
            <label htmlFor={ids.replicas}>Replicas</label>
            <input
              id={ids.replicas}
              type="number"
              min={1}
              max={100}
              placeholder="1"
              value={replicas}
              onChange={(event) => setReplicas(event.target.value)}
            />
          </div>
          <ResourcesFields value={resources} onChange={setResources} />
        </fieldset>

        <KeyValueEditor
          legend="Variables"
          noun="variable"
          pairs={env}
          onChange={setEnv}
          hint="Plain environment variables of the deployment's graphs; shown to anyone who can read the deployment."
        />
        <KeyValueEditor
          legend="Secrets"
          noun="secret"
          pairs={secrets}
          onChange={setSecrets}
          secret
          hint="Encrypted at rest and never shown again; given to the graphs as environment variables."
        />

        {problem && (
          <p className="form-error" role="alert">
            {problem}
          </p>
        )}
        {error !== undefined && (
          <ActionError
            error={error}
            context="Could not create the deployment"
            needs="Creating a deployment needs a developer or admin key that is not scoped to one deployment."
          />
        )}
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={pending}>
            {pending ? "Creating…" : "Create deployment"}
          </button>
          <Link to="/deployments" className="button">
            Cancel
          </Link>
        </div>
      </form>
    </Page>
  );
}
