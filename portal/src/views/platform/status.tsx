import type {
  Deployment,
  DeploymentCondition,
  DeploymentStatus,
  RevisionStatus,
} from "@langopen/gen/langopen/control/v1/deployment_pb";
import { Time } from "../../components/time";
import { badgeClass, conditionTone, DEPLOYMENT_STATUS, REVISION_STATUS, troubleOf } from "./format";

export function DeploymentStatusBadge({ status }: { status: DeploymentStatus }) {
  const { label, tone } = DEPLOYMENT_STATUS[status] ?? DEPLOYMENT_STATUS[0];
  return <span className={badgeClass(tone)}>{label}</span>;
}

export function RevisionStatusBadge({ status }: { status: RevisionStatus }) {
  const { label, tone } = REVISION_STATUS[status] ?? REVISION_STATUS[0];
  return <span className={badgeClass(tone)}>{label}</span>;
}

/** Why the deployment is not fine, when it is not (its message and failing conditions' reasons). */
export function Trouble({ deployment }: { deployment: Deployment }) {
  const reasons = troubleOf(deployment);
  if (reasons.length === 0) return null;
  return (
    <ul className="trouble">
      {reasons.map((reason) => (
        <li key={reason}>{reason}</li>
      ))}
    </ul>
  );
}

/** Conditions as Kubernetes shows them: type, status, reason, message, since. */
export function ConditionsTable({ conditions }: { conditions: DeploymentCondition[] }) {
  if (conditions.length === 0) return <p className="empty">The platform has reported no conditions yet.</p>;
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Type</th>
            <th scope="col">Status</th>
            <th scope="col">Reason</th>
            <th scope="col">Message</th>
            <th scope="col">Since</th>
          </tr>
        </thead>
        <tbody>
          {conditions.map((condition) => (
            <tr key={condition.type}>
              <th scope="row">{condition.type}</th>
              <td>
                <span className={badgeClass(conditionTone(condition))}>{condition.status}</span>
              </td>
              <td>{condition.reason}</td>
              <td className="cell-wrap">{condition.message}</td>
              <td>
                <Time value={condition.lastTransitionTime} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
