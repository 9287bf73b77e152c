import { Link } from "react-router";
import { Section } from "../../components/page";
import { Time } from "../../components/time";
import { deploymentPath, useDeploymentContext } from "./deployment-context";
import { sandboxName, sourceSummary } from "./format";
import { ConditionsTable, DeploymentStatusBadge, Trouble } from "./status";

/** The deployment at a glance: status and conditions, where it answers, what it runs and how. */
export function OverviewTab() {
  const { deployment } = useDeploymentContext();
  const source = deployment.source;
  const resources = deployment.resources;
  const envNames = Object.keys(deployment.env).sort();
  const portalUrl = deployment.url ? `${deployment.url.replace(/\/+$/, "")}/portal/` : undefined;
  return (
    <>
      <Section title="Status">
        <p className="status-line">
          <DeploymentStatusBadge status={deployment.status} />
          {deployment.statusMessage && <span>{deployment.statusMessage}</span>}
        </p>
        <Trouble deployment={deployment} />
        <h3 className="subheading">Conditions</h3>
        <ConditionsTable conditions={deployment.conditions} />
      </Section>

      <Section title="Where it answers">
        {deployment.url ? (
          <dl className="facts">
            <dt>LangGraph API</dt>
            <dd>
              <code>{deployment.url}</code>
            </dd>
            <dt>Portal</dt>
            <dd>
              <a href={portalUrl} target="_blank" rel="noopener noreferrer">
                Open its portal<span className="visually-hidden"> (opens in a new tab)</span>
              </a>
            </dd>
          </dl>
        ) : (
          <p className="muted">No URL yet: it has one once a revision serves.</p>
        )}
      </Section>

      <Section title="Source and revisions">
        <dl className="facts">
          <dt>Source</dt>
          <dd className="wrap">{sourceSummary(source)}</dd>
          <dt>Config path</dt>
          <dd>
            <code>{source?.configPath || "langgraph.json"}</code>
          </dd>
          <dt>Serving</dt>
          <dd>
            {deployment.currentRevisionId ? (
              <Link to={deploymentPath(deployment, "revisions", deployment.currentRevisionId)}>
                <code>{deployment.currentRevisionId}</code>
              </Link>
            ) : (
              <span className="muted">no revision yet</span>
            )}
          </dd>
          <dt>Latest</dt>
          <dd>
            {deployment.latestRevisionId ? (
              <Link to={deploymentPath(deployment, "revisions", deployment.latestRevisionId)}>
                <code>{deployment.latestRevisionId}</code>
              </Link>
            ) : (
              <span className="muted">—</span>
            )}
            {deployment.latestRevisionId && deployment.latestRevisionId !== deployment.currentRevisionId && (
              <>
                {" "}
                <Link to={deploymentPath(deployment, "logs")}>its build log</Link>
              </>
            )}
          </dd>
          <dt>Created</dt>
          <dd>
            <Time value={deployment.createTime} />
          </dd>
          <dt>Updated</dt>
          <dd>
            <Time value={deployment.updateTime} />
          </dd>
        </dl>
      </Section>

      <Section title="Runtime">
        <dl className="facts">
          <dt>Sandbox</dt>
          <dd>{sandboxName(deployment.sandbox)}</dd>
          <dt>Replicas</dt>
          <dd>{deployment.replicas}</dd>
          <dt>Runtime processes</dt>
          <dd>{resources?.runtimeProcesses || "default"}</dd>
          <dt>Concurrent runs</dt>
          <dd>{resources?.workerConcurrency || "default"}</dd>
          <dt>Memory per process</dt>
          <dd>{resources?.runtimeMemoryMb ? `${resources.runtimeMemoryMb} MiB` : "no limit"}</dd>
          <dt>Variables</dt>
          <dd>
            {envNames.length > 0 ? envNames.map((name) => <code key={name}>{name} </code>) : <span className="muted">none</span>}
          </dd>
          <dt>Secrets</dt>
          <dd>
            {deployment.secretNames.length > 0 ? (
              deployment.secretNames.map((name) => <code key={name}>{name} </code>)
            ) : (
              <span className="muted">none</span>
            )}{" "}
            <Link to={`/secrets?deployment=${encodeURIComponent(deployment.name)}`}>Manage secrets</Link>
          </dd>
        </dl>
        <p>
          <Link to={deploymentPath(deployment, "settings")}>Change the settings</Link>
        </p>
      </Section>
    </>
  );
}
