{{/*
Names, labels and the pieces every workload shares. Everything the chart renders goes through these
helpers, so a pod cannot be rendered without its hardening.
*/}}

{{/* The chart's name (nameOverride wins). */}}
{{- define "langopen.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's prefix of every object name, at most 63 characters (a DNS label). */}}
{{- define "langopen.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The name of one component's objects: <fullname>-<component>, still a DNS label. Call with (list . "component"). */}}
{{- define "langopen.componentName" -}}
{{- $ctx := index . 0 -}}
{{- printf "%s-%s" (include "langopen.fullname" $ctx) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "langopen.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The labels that select the release's pods (never change them: selectors are immutable). */}}
{{- define "langopen.selectorLabels" -}}
app.kubernetes.io/name: {{ include "langopen.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The labels of every object. */}}
{{- define "langopen.labels" -}}
helm.sh/chart: {{ include "langopen.chart" . }}
{{ include "langopen.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: langopen
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* One component's selector labels. Call with (list . "component"). */}}
{{- define "langopen.componentSelectorLabels" -}}
{{ include "langopen.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* One component's labels. Call with (list . "component"). */}}
{{- define "langopen.componentLabels" -}}
{{ include "langopen.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* Where AgentDeployments and their data planes live (dataPlane.namespace, else the release's). */}}
{{- define "langopen.dataPlaneNamespace" -}}
{{- default .Release.Namespace .Values.dataPlane.namespace -}}
{{- end -}}

{{/* An image reference: registry/repository@digest when a digest is given, else :tag (tag defaults to appVersion). Call with (list . .Values.image). */}}
{{- define "langopen.imageRef" -}}
{{- $ctx := index . 0 -}}
{{- $image := index . 1 -}}
{{- $repository := $image.repository -}}
{{- if $image.registry -}}
{{- $repository = printf "%s/%s" $image.registry $image.repository -}}
{{- end -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $repository $image.digest -}}
{{- else -}}
{{- $tag := default $ctx.Chart.AppVersion $image.tag | toString -}}
{{- if eq $tag "latest" -}}
{{- fail (printf "image %s: the tag must be a pinned version or a digest, not latest" $repository) -}}
{{- end -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}
{{- end -}}

{{/* LangOpen's own image (control plane, operator, migrations, data planes). */}}
{{- define "langopen.image" -}}
{{- include "langopen.imageRef" (list . .Values.image) -}}
{{- end -}}

{{/*
The pod securityContext: non-root with a fixed uid/gid, files written as that group, the runtime's
default seccomp profile. Call with the uid and gid: (list 10001 10001).
*/}}
{{- define "langopen.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ index . 0 }}
runAsGroup: {{ index . 1 }}
fsGroup: {{ index . 1 }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Every container's securityContext: no privilege escalation, read-only root, no capabilities. */}}
{{- define "langopen.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop:
    - ALL
{{- end -}}

{{/*
A pod spec's registry Secrets, node selection, tolerations, priority and (when a component is named) a
soft spread of its replicas over nodes; empty when none applies. Call with (list . .Values.<component> "component"),
the component "" for no spread.
*/}}
{{- define "langopen.podPlacement" -}}
{{- $ctx := index . 0 -}}
{{- $values := index . 1 -}}
{{- $component := index . 2 -}}
{{- with $ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- if $component }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "langopen.componentSelectorLabels" (list $ctx $component) | nindent 8 }}
{{- end }}
{{- end -}}

{{/* extraEnv of a component. Call with the component's values. */}}
{{- define "langopen.extraEnv" -}}
{{- range .extraEnv }}
- name: {{ .name }}
  value: {{ .value | quote }}
{{- end }}
{{- end -}}

{{/* The Secret holding DATABASE_URL: postgres.existingSecret, else the dev Postgres's generated one. */}}
{{- define "langopen.postgresSecretName" -}}
{{- if .Values.postgres.existingSecret -}}
{{- .Values.postgres.existingSecret -}}
{{- else -}}
{{- include "langopen.componentName" (list . "postgres") -}}
{{- end -}}
{{- end -}}

{{- define "langopen.postgresSecretKey" -}}
{{- if .Values.postgres.existingSecret -}}
{{- .Values.postgres.secretKey -}}
{{- else -}}
url
{{- end -}}
{{- end -}}

{{/* Whether the data planes have a Redis: "true" or "". */}}
{{- define "langopen.hasRedis" -}}
{{- if or .Values.redis.existingSecret .Values.dev.redis.enabled -}}true{{- end -}}
{{- end -}}

{{/* The Secret holding the data planes' REDIS_URL (in the data planes' namespace). */}}
{{- define "langopen.redisSecretName" -}}
{{- if .Values.redis.existingSecret -}}
{{- .Values.redis.existingSecret -}}
{{- else -}}
{{- include "langopen.componentName" (list . "redis") -}}
{{- end -}}
{{- end -}}

{{- define "langopen.redisSecretKey" -}}
{{- if .Values.redis.existingSecret -}}
{{- .Values.redis.secretKey -}}
{{- else -}}
url
{{- end -}}
{{- end -}}

{{/* The DATABASE_URL variable of the control plane and the migrations. */}}
{{- define "langopen.databaseUrlEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "langopen.postgresSecretName" . }}
      key: {{ include "langopen.postgresSecretKey" . }}
{{- end -}}

{{/* A namespace selector for one namespace (by the label every namespace carries). */}}
{{- define "langopen.namespaceSelector" -}}
namespaceSelector:
  matchLabels:
    kubernetes.io/metadata.name: {{ . }}
{{- end -}}

{{/*
NetworkPolicy peers of a dependency as a JSON list: its CIDRs, its selector peers, and the dev
instance's pods when that is enabled. Call with (list . .Values.dataPlane.egress.postgres "postgres" .Values.dev.postgres.enabled).
*/}}
{{- define "langopen.dependencyPeers" -}}
{{- $ctx := index . 0 -}}
{{- $target := index . 1 -}}
{{- $component := index . 2 -}}
{{- $dev := index . 3 -}}
{{- $peers := list -}}
{{- range $target.cidrs -}}
{{- $peers = append $peers (dict "ipBlock" (dict "cidr" .)) -}}
{{- end -}}
{{- range $target.peers -}}
{{- $peers = append $peers . -}}
{{- end -}}
{{- if $dev -}}
{{- $pods := include "langopen.componentSelectorLabels" (list $ctx $component) | fromYaml -}}
{{- $peers = append $peers (dict "podSelector" (dict "matchLabels" $pods) "namespaceSelector" (dict "matchLabels" (dict "kubernetes.io/metadata.name" $ctx.Release.Namespace))) -}}
{{- end -}}
{{- toJson $peers -}}
{{- end -}}

{{- define "langopen.postgresPeers" -}}
{{- include "langopen.dependencyPeers" (list . .Values.dataPlane.egress.postgres "postgres" .Values.dev.postgres.enabled) -}}
{{- end -}}

{{- define "langopen.redisPeers" -}}
{{- include "langopen.dependencyPeers" (list . .Values.dataPlane.egress.redis "redis" .Values.dev.redis.enabled) -}}
{{- end -}}

{{/* The control plane's URL inside the cluster (its Service). */}}
{{- define "langopen.controlPlaneUrl" -}}
{{- printf "http://%s.%s.svc:8130" (include "langopen.componentName" (list . "control-plane")) .Release.Namespace -}}
{{- end -}}

{{/* The control plane's pods as a NetworkPolicy peer (from any namespace). */}}
{{- define "langopen.controlPlanePeer" -}}
podSelector:
  matchLabels:
    {{- include "langopen.componentSelectorLabels" (list . "control-plane") | nindent 4 }}
{{ include "langopen.namespaceSelector" .Release.Namespace }}
{{- end -}}

{{/* The data planes' pods (every pod the operator manages) as a NetworkPolicy peer. */}}
{{- define "langopen.dataPlanePeer" -}}
podSelector:
  matchLabels:
    app.kubernetes.io/managed-by: langopen-operator
{{- if .Values.operator.watchAllNamespaces }}
namespaceSelector: {}
{{- else }}
{{ include "langopen.namespaceSelector" (include "langopen.dataPlaneNamespace" .) }}
{{- end }}
{{- end -}}

{{/*
The operator's settings (LANGOPEN_OPERATOR_SETTINGS_FILE): what it needs besides each
AgentDeployment to render its data plane (services/operator/src/render.ts, RenderSettings).
*/}}
{{- define "langopen.operatorSettings" -}}
{{- $dependencies := list (dict "to" (include "langopen.postgresPeers" . | fromJsonArray) "ports" (list (dict "port" (int .Values.dataPlane.egress.postgres.port) "protocol" "TCP"))) -}}
{{- if include "langopen.hasRedis" . -}}
{{- $dependencies = append $dependencies (dict "to" (include "langopen.redisPeers" . | fromJsonArray) "ports" (list (dict "port" (int .Values.dataPlane.egress.redis.port) "protocol" "TCP"))) -}}
{{- end -}}
{{- $settings := dict
  "image" (include "langopen.image" .)
  "imagePullPolicy" .Values.image.pullPolicy
  "controlPlaneUrl" (include "langopen.controlPlaneUrl" .)
  "controlPlane" (dict "to" (list (include "langopen.controlPlanePeer" . | fromYaml)) "ports" (list (dict "port" 8130 "protocol" "TCP")))
  "dependencies" $dependencies
  "publicKeyConfigMap" (include "langopen.componentName" (list . "signing-key"))
  "credentialsSecret" "{name}-credentials"
  "prometheusUrl" .Values.dataPlane.prometheusUrl
  "uid" 10001
  "drainSeconds" (int .Values.dataPlane.drainSeconds)
  "progressDeadlineSeconds" (int .Values.dataPlane.progressDeadlineSeconds)
  "urlTemplate" .Values.dataPlane.urlTemplate
  "egressAllowedCidrs" .Values.dataPlane.egressAllowedCidrs
  "leaseName" (include "langopen.componentName" (list . "operator"))
-}}
{{- if not .Values.operator.watchAllNamespaces -}}
{{- $_ := set $settings "watchNamespace" (include "langopen.dataPlaneNamespace" .) -}}
{{- end -}}
{{- with .Values.dataPlane.ingress -}}
{{- if .enabled -}}
{{- $ingress := dict -}}
{{- if .className }}{{- $_ := set $ingress "className" .className -}}{{ end -}}
{{- if .annotations }}{{- $_ := set $ingress "annotations" .annotations -}}{{ end -}}
{{- if .tlsSecretName }}{{- $_ := set $ingress "tlsSecretName" .tlsSecretName -}}{{ end -}}
{{- $_ := set $settings "ingress" $ingress -}}
{{- end -}}
{{- end -}}
{{- toPrettyJson $settings -}}
{{- end -}}

{{/* Checks across values that the schema cannot express with a clear message. Included by every workload. */}}
{{- define "langopen.validateValues" -}}
{{- if and (not .Values.postgres.existingSecret) (not .Values.dev.postgres.enabled) -}}
{{- fail "postgres.existingSecret: name the Secret holding the platform's DATABASE_URL (or set dev.postgres.enabled=true for a throwaway one)" -}}
{{- end -}}
{{- if and .Values.postgres.existingSecret .Values.dev.postgres.enabled -}}
{{- fail "postgres.existingSecret and dev.postgres.enabled are both set: choose one Postgres" -}}
{{- end -}}
{{- if and .Values.redis.existingSecret .Values.dev.redis.enabled -}}
{{- fail "redis.existingSecret and dev.redis.enabled are both set: choose one Redis" -}}
{{- end -}}
{{- if not (include "langopen.postgresPeers" . | fromJsonArray) -}}
{{- fail "dataPlane.egress.postgres: give the Postgres's cidrs or peers (NetworkPolicies allow nothing else; an empty list would allow every destination)" -}}
{{- end -}}
{{- if and (include "langopen.hasRedis" .) (not (include "langopen.redisPeers" . | fromJsonArray)) -}}
{{- fail "dataPlane.egress.redis: give the Redis's cidrs or peers (NetworkPolicies allow nothing else; an empty list would allow every destination)" -}}
{{- end -}}
{{- $replicas := int .Values.controlPlane.replicas -}}
{{- if .Values.controlPlane.autoscaling.enabled -}}
{{- $replicas = int .Values.controlPlane.autoscaling.maxReplicas -}}
{{- end -}}
{{- if and (gt $replicas 1) (not .Values.controlPlane.persistence.existingClaim) (not (has "ReadWriteMany" .Values.controlPlane.persistence.accessModes)) -}}
{{- fail "controlPlane: more than one replica shares the platform folder: set controlPlane.persistence.accessModes to [ReadWriteMany] (or an existingClaim that is)" -}}
{{- end -}}
{{- if and .Values.controlPlane.autoscaling.enabled (gt (int .Values.controlPlane.autoscaling.minReplicas) (int .Values.controlPlane.autoscaling.maxReplicas)) -}}
{{- fail "controlPlane.autoscaling: minReplicas must not exceed maxReplicas" -}}
{{- end -}}
{{- if and .Values.controlPlane.oidc.issuer (not .Values.controlPlane.oidc.clientId) -}}
{{- fail "controlPlane.oidc.clientId: the portal's client at the provider is needed with controlPlane.oidc.issuer" -}}
{{- end -}}
{{- if and .Values.ingress.enabled (not .Values.ingress.host) -}}
{{- fail "ingress.host: the control plane's host name is needed when ingress.enabled" -}}
{{- end -}}
{{- if and .Values.httpRoute.enabled (not .Values.httpRoute.parentRefs) -}}
{{- fail "httpRoute.parentRefs: name the Gateway(s) the route attaches to when httpRoute.enabled" -}}
{{- end -}}
{{- end -}}
