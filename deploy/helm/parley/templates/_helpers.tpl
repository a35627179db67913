{{- define "parley.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "parley.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "parley.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "parley.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: (dict "component" $name "context" $) */}}
{{- define "parley.selectorLabels" -}}
app.kubernetes.io/name: {{ include "parley.name" .context }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "parley.componentName" -}}
{{- printf "%s-%s" (include "parley.fullname" .context) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* A service's workload kind: with persistence, a StatefulSet (a volume claim per pod); else a Deployment. */}}
{{- define "parley.workloadKind" -}}
{{- if dig "persistence" "enabled" false . }}StatefulSet{{ else }}Deployment{{ end }}
{{- end }}

{{- define "parley.image" -}}
{{- $ctx := .context -}}
{{- $registry := $ctx.Values.global.imageRegistry -}}
{{- $repo := printf "%s-%s" $ctx.Values.image.repository .component -}}
{{- $tag := $ctx.Values.image.tag | default $ctx.Chart.AppVersion -}}
{{- if $registry }}{{ printf "%s/%s:%s" $registry $repo $tag }}{{ else }}{{ printf "%s:%s" $repo $tag }}{{ end -}}
{{- end -}}

{{- define "parley.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "parley.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding inline values (dev only), when any were given. */}}
{{- define "parley.inlineSecretName" -}}
{{- printf "%s-inline" (include "parley.fullname" .) -}}
{{- end -}}

{{/* env var from a secret key: (dict "name" ENV "secret" NAME "key" KEY) */}}
{{- define "parley.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .key }}
{{- end -}}

{{- define "parley.prefix" -}}
{{- upper .component -}}_
{{- end -}}

{{/* The kind of blob store a URL names, as obstore reads it: azure, gcs, s3 or file. */}}
{{- define "parley.blobStore" -}}
{{- $scheme := regexReplaceAll "://.*$" . "" -}}
{{- if has $scheme (list "az" "azure" "abfs" "abfss") -}}azure
{{- else if eq $scheme "gs" -}}gcs
{{- else if eq $scheme "file" -}}file
{{- else -}}s3
{{- end -}}
{{- end -}}

{{/* Where recordings finds a GCS service account key from blob.existingSecret (read-only, outside /tmp and the state). */}}
{{- define "parley.gcsKeyDir" -}}/var/run/secrets/parley/gcs{{- end -}}

{{/* Whether a component mounts blob.existingSecret's GCS key: (dict "component" $name "context" $) */}}
{{- define "parley.mountsGcsKey" -}}
{{- $blob := .context.Values.blob -}}
{{- if and (eq .component "recordings") $blob.existingSecret (eq (include "parley.blobStore" $blob.url) "gcs") -}}true{{- end -}}
{{- end -}}

{{/* Environment of one component: (dict "component" $name "svc" $svc "context" $) */}}
{{- define "parley.env" -}}
{{- $ctx := .context -}}
{{- $v := $ctx.Values -}}
{{- $p := include "parley.prefix" . -}}
{{- $inline := include "parley.inlineSecretName" $ctx -}}
- name: {{ $p }}HOST
  value: "0.0.0.0"
- name: {{ $p }}PORT
  value: {{ .svc.port | quote }}
- name: {{ $p }}LOG_LEVEL
  value: {{ $v.logLevel | quote }}
- name: {{ $p }}NATS_URL
  value: {{ $v.nats.url | quote }}
- name: {{ $p }}NATS_USER
  value: {{ index $v.nats.users .component | quote }}
{{ include "parley.secretEnv" (dict "name" (printf "%sNATS_PASSWORD" $p) "secret" $v.nats.existingSecret "key" (printf "%s-password" .component)) }}
{{- with $v.serviceMonitor.scrapeKey }}
- name: {{ $p }}METRICS_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret }}
      key: {{ .existingSecretKey }}
      optional: {{ not $v.serviceMonitor.enabled }}  {{- /* Prometheus needs it; else an API key opens /metrics */}}
{{- end }}
{{- if eq .component "insights" }}
{{ include "parley.secretEnv" (dict "name" "INSIGHTS_API_KEYS" "secret" (default $inline $v.apiKeys.existingSecret) "key" $v.apiKeys.existingSecretKey) }}
{{- end }}
{{- if not (has .component (list "agent" "console" "insights")) }}
{{ include "parley.secretEnv" (dict "name" (printf "%sDATABASE_URL" $p) "secret" (default $inline $v.postgres.existingSecret) "key" $v.postgres.existingSecretKey) }}
{{ include "parley.secretEnv" (dict "name" (printf "%sAPI_KEYS" $p) "secret" (default $inline $v.apiKeys.existingSecret) "key" $v.apiKeys.existingSecretKey) }}
- name: {{ $p }}MIGRATE_ON_START
  value: "false"
{{- end }}
{{- if or (eq .component "rooms") (eq .component "agent") }}
- name: {{ $p }}LIVEKIT_URL
  value: {{ $v.livekit.url | quote }}
{{ include "parley.secretEnv" (dict "name" (printf "%sLIVEKIT_API_KEY" $p) "secret" $v.livekit.existingSecret "key" $v.livekit.apiKeyKey) }}
{{ include "parley.secretEnv" (dict "name" (printf "%sLIVEKIT_API_SECRET" $p) "secret" $v.livekit.existingSecret "key" $v.livekit.apiSecretKey) }}
- name: {{ $p }}AGENT_NAME
  value: {{ $v.agent.name | quote }}
- name: {{ $p }}STATE_DIR
  value: /var/lib/parley
{{- end }}
{{- if eq .component "rooms" }}
- name: ROOMS_RETENTION_DAYS
  value: {{ $v.rooms.retentionDays | quote }}
- name: ROOMS_IDEMPOTENCY_KEY_HOURS
  value: {{ $v.rooms.idempotencyKeyHours | quote }}
- name: ROOMS_AGENT_FAILOVER_SECONDS
  value: {{ $v.rooms.agentFailoverSeconds | int | quote }}
- name: ROOMS_AGENT_FAILOVER_MAX
  value: {{ $v.rooms.agentFailoverMax | int | quote }}
{{- end }}
{{- if eq .component "history" }}
- name: HISTORY_RETENTION_DAYS
  value: {{ $v.history.retentionDays | quote }}
- name: HISTORY_SESSION_TIMEOUT_MINUTES
  value: {{ $v.history.sessionTimeoutMinutes | quote }}
{{- end }}
{{- if eq .component "recordings" }}
- name: RECORDINGS_BLOB_URL
  value: {{ $v.blob.url | quote }}
- name: RECORDINGS_RETENTION_DAYS
  value: {{ $v.blob.retentionDays | quote }}
- name: RECORDINGS_BLOB_ALLOW_HTTP
  value: {{ $v.blob.allowHttp | quote }}
{{- with $v.blob.s3Endpoint }}
- name: RECORDINGS_BLOB_S3_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- with $v.blob.s3Region }}
- name: RECORDINGS_BLOB_S3_REGION
  value: {{ . | quote }}
{{- end }}
{{- with $v.blob.s3PublicEndpoint }}
- name: RECORDINGS_BLOB_S3_PUBLIC_ENDPOINT
  value: {{ . | quote }}
{{- end }}
- name: RECORDINGS_LINK_MAX_SECONDS
  value: {{ $v.blob.linkMaxSeconds | int | quote }}
{{- if $v.blob.existingSecret }}
{{- $store := include "parley.blobStore" $v.blob.url }}
{{- if eq $store "azure" }}
{{ include "parley.secretEnv" (dict "name" "AZURE_STORAGE_ACCOUNT_NAME" "secret" $v.blob.existingSecret "key" "account-name") }}
{{ include "parley.secretEnv" (dict "name" "AZURE_STORAGE_ACCOUNT_KEY" "secret" $v.blob.existingSecret "key" "account-key") }}
{{- else if eq $store "gcs" }}
- name: GOOGLE_SERVICE_ACCOUNT
  value: {{ include "parley.gcsKeyDir" . }}/service-account.json
{{- else if eq $store "s3" }}
{{ include "parley.secretEnv" (dict "name" "RECORDINGS_BLOB_ACCESS_KEY_ID" "secret" $v.blob.existingSecret "key" "access-key-id") }}
{{ include "parley.secretEnv" (dict "name" "RECORDINGS_BLOB_SECRET_ACCESS_KEY" "secret" $v.blob.existingSecret "key" "secret-access-key") }}
{{- end }}
{{- end }}
{{- end }}
{{- if eq .component "console" }}
{{- $c := $v.console }}
{{ include "parley.secretEnv" (dict "name" "CONSOLE_API_KEYS" "secret" $c.existingSecret "key" $c.signInKeysKey) }}
{{ include "parley.secretEnv" (dict "name" "CONSOLE_SERVICE_KEY" "secret" $c.existingSecret "key" $c.serviceKeyKey) }}
{{ include "parley.secretEnv" (dict "name" "CONSOLE_SESSION_SECRET" "secret" $c.existingSecret "key" $c.sessionSecretKey) }}
- name: CONSOLE_SESSION_TTL_SECONDS
  value: {{ $c.sessionTtlSeconds | int | quote }}
{{- with $c.trustedIdentityHeader }}
- name: CONSOLE_TRUSTED_IDENTITY_HEADER
  value: {{ . | quote }}
{{- end }}
- name: CONSOLE_TRUSTED_IDENTITY_SCOPES
  value: {{ $c.trustedIdentityScopes | quote }}
- name: CONSOLE_LIVEKIT_URL
  value: {{ $c.livekitUrl | default $v.livekit.url | quote }}
{{- range $name := list "history" "rooms" "recordings" }}
- name: CONSOLE_{{ upper $name }}_URL
  value: {{ printf "http://%s:%v" (include "parley.componentName" (dict "component" $name "context" $ctx)) (index $v.services $name).port | quote }}
{{- end }}
{{- end }}
{{- if eq .component "insights" }}
{{- $i := $v.insights }}
- name: INSIGHTS_LLM_MODEL
  value: {{ $i.llmModel | quote }}
- name: INSIGHTS_DEFAULT_SCHEMA
  value: {{ $i.defaultSchema | quote }}
- name: INSIGHTS_TRANSPORT
  value: {{ $i.transport | quote }}
{{- with $i.llmBaseUrl }}
- name: INSIGHTS_LLM_BASE_URL
  value: {{ . | quote }}
{{- end }}
{{- /* Both optional: without the model's key the model is called without one; without history's key an
       analysis asked again is answered 503 (the analysis of every ended session needs neither). */}}
- name: INSIGHTS_LLM_API_KEY
  valueFrom: {secretKeyRef: {name: {{ $i.existingSecret }}, key: {{ $i.llmApiKeyKey }}, optional: true}}
- name: INSIGHTS_HISTORY_KEY
  valueFrom: {secretKeyRef: {name: {{ $i.existingSecret }}, key: {{ $i.historyKeyKey }}, optional: true}}
{{- if $i.prices }}
- name: INSIGHTS_PRICES_FILE
  value: /etc/parley/insights/prices.yaml
{{- end }}
{{- if $i.schemas }}
- name: INSIGHTS_SCHEMAS_FILE
  value: /etc/parley/insights/schemas.json
{{- end }}
- name: INSIGHTS_HISTORY_URL
  value: {{ printf "http://%s:%v" (include "parley.componentName" (dict "component" "history" "context" $ctx)) $v.services.history.port | quote }}
{{- end }}
{{- if eq .component "webhooks" }}
{{- $w := $v.webhooks }}
{{ include "parley.secretEnv" (dict "name" "WEBHOOKS_SECRET_KEY" "secret" $w.existingSecret "key" $w.secretKeyKey) }}
- name: WEBHOOKS_ALLOW_PRIVATE_TARGETS
  value: {{ $w.allowPrivateTargets | quote }}
- name: WEBHOOKS_REPORT_WAIT_SECONDS
  value: {{ $w.reportWaitSeconds | quote }}
- name: WEBHOOKS_TIMEOUT_SECONDS
  value: {{ $w.timeoutSeconds | quote }}
- name: WEBHOOKS_RECORDINGS_URL
  value: {{ printf "http://%s:%v" (include "parley.componentName" (dict "component" "recordings" "context" $ctx)) $v.services.recordings.port | quote }}
- name: WEBHOOKS_RECORDINGS_KEY
  valueFrom: {secretKeyRef: {name: {{ $w.existingSecret }}, key: {{ $w.recordingsKeyKey }}, optional: true}}
{{- end }}
{{- if eq .component "agent" }}
- name: AGENT_PROVIDERS
  value: {{ $v.agent.providers | quote }}
- name: AGENT_LLM_MODEL
  value: {{ $v.agent.llmModel | quote }}
- name: AGENT_DEEPGRAM_MODEL
  value: {{ $v.agent.deepgramModel | quote }}
- name: AGENT_LOAD_THRESHOLD
  value: {{ $v.agent.loadThreshold | quote }}
- name: AGENT_JOB_MEMORY_WARN_MB
  value: {{ $v.agent.jobMemoryWarnMb | int | quote }}
- name: AGENT_JOB_MEMORY_LIMIT_MB
  value: {{ $v.agent.jobMemoryLimitMb | int | quote }}
- name: AGENT_REDACT
  value: {{ $v.agent.redact | quote }}
- name: AGENT_REDACT_MASK
  value: {{ $v.agent.redactMask | quote }}
- name: AGENT_REDACT_ROOMS_MAY_REMOVE
  value: {{ $v.agent.redactRoomsMayRemove | quote }}
{{- if not (kindIs "invalid" $v.agent.idleProcesses) }}
- name: AGENT_IDLE_PROCESSES
  value: {{ $v.agent.idleProcesses | int | quote }}
{{- end }}
{{- with $v.agent.llmBaseUrl }}
- name: AGENT_LLM_BASE_URL
  value: {{ . | quote }}
{{- end }}
{{- with $v.agent.elevenlabsVoiceId }}
- name: AGENT_ELEVENLABS_VOICE_ID
  value: {{ . | quote }}
{{- end }}
{{- if not (kindIs "invalid" $v.agent.greeting) }}
- name: AGENT_GREETING
  value: {{ $v.agent.greeting | quote }}
{{- end }}
{{- if eq $v.agent.providers "live" }}
{{ include "parley.secretEnv" (dict "name" "AGENT_DEEPGRAM_API_KEY" "secret" $v.agent.existingSecret "key" "deepgram-api-key") }}
{{ include "parley.secretEnv" (dict "name" "AGENT_ELEVENLABS_API_KEY" "secret" $v.agent.existingSecret "key" "elevenlabs-api-key") }}
{{ include "parley.secretEnv" (dict "name" "AGENT_LLM_API_KEY" "secret" $v.agent.existingSecret "key" "llm-api-key") }}
{{- end }}
{{- end }}
{{- with $v.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "deployment.environment=%s,k8s.namespace.name=%s" $ctx.Release.Name $ctx.Release.Namespace | quote }}
{{- range $name, $value := .svc.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}
