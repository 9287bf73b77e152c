import { BaseConfigSchema, PortSchema } from "@langopen/common";
import { type Static, Type } from "typebox";

/** The operator's process (`node services/operator/dist/main.js`). */
export const OperatorConfigSchema = Type.Object({
  ...BaseConfigSchema.properties,
  /** The settings of this installation (a JSON file; the Helm chart mounts it from a ConfigMap): see OperatorSettingsSchema. */
  LANGOPEN_OPERATOR_SETTINGS_FILE: Type.String({ minLength: 1 }),
  /** This replica's name (the pod's, from the downward API): its identity in the leader election. */
  POD_NAME: Type.Optional(Type.String({ minLength: 1 })),
  /** Where the Lease lives (the pod's namespace, from the downward API). */
  POD_NAMESPACE: Type.String({ minLength: 1, default: "default" }),
  /** /healthz, /readyz and /metrics over HTTP/1.1. */
  OPERATOR_HOST: Type.String({ minLength: 1, default: "127.0.0.1" }),
  OPERATOR_PORT: PortSchema(8132),
  /** Off only where one replica runs and nothing else could act (tests, a single-node trial). */
  LANGOPEN_LEADER_ELECTION: Type.Boolean({ default: true }),
});
export type OperatorConfig = Static<typeof OperatorConfigSchema>;

const Peer = Type.Record(Type.String(), Type.Unknown());
const EgressTarget = Type.Object(
  {
    to: Type.Array(Peer, { minItems: 1 }),
    ports: Type.Array(
      Type.Object(
        {
          port: Type.Integer({ minimum: 1, maximum: 65535 }),
          protocol: Type.Optional(Type.Union([Type.Literal("TCP"), Type.Literal("UDP")])),
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
  },
  { additionalProperties: false },
);

/** The installation's settings file: what every data plane the operator renders shares. */
export const OperatorSettingsSchema = Type.Object(
  {
    image: Type.String({ minLength: 1 }),
    imagePullPolicy: Type.Optional(Type.Union([Type.Literal("Always"), Type.Literal("IfNotPresent"), Type.Literal("Never")])),
    controlPlaneUrl: Type.String({ pattern: "^https?://" }),
    controlPlane: EgressTarget,
    dependencies: Type.Array(EgressTarget),
    publicKeyConfigMap: Type.String({ minLength: 1 }),
    credentialsSecret: Type.String({ minLength: 1, pattern: "\\{name\\}" }),
    prometheusUrl: Type.String({ pattern: "^https?://" }),
    uid: Type.Optional(Type.Integer({ minimum: 1 })),
    drainSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400 })),
    progressDeadlineSeconds: Type.Optional(Type.Integer({ minimum: 30, maximum: 86_400 })),
    urlTemplate: Type.String({ minLength: 1 }),
    /**
     * Special-purpose address blocks (private, link-local, loopback…) graph code may reach when its
     * project declares them, such as an internal API at 10.20.0.5/32. By default none: a project's
     * egress never opens them. Each a block written as its network address (checked at load).
     */
    egressAllowedCidrs: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 43 }), { default: [] })),
    /** An Ingress per deployment to its gateway, on the URL template's host. */
    ingress: Type.Optional(
      Type.Object(
        {
          className: Type.Optional(Type.String({ minLength: 1 })),
          annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
          tlsSecretName: Type.Optional(Type.String({ minLength: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    leaseName: Type.String({ minLength: 1, default: "langopen-operator" }),
    /** The namespace whose AgentDeployments it serves; absent or empty: every namespace. */
    watchNamespace: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type OperatorSettingsFile = Static<typeof OperatorSettingsSchema>;
