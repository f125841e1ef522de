{{/*
Names and labels, as in the prometheus-community charts.
*/}}

{{/* The chart name, truncated to 63 characters (a DNS label). */}}
{{- define "exchange-bridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name: release-chart, or the release name alone when it already contains the chart name.
Truncated to 52 characters: the StatefulSet controller adds a revision hash to the pod label
controller-revision-hash, which must fit in 63.
*/}}
{{- define "exchange-bridge.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "exchange-bridge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: the small stable pair (selectors cannot change after install). */}}
{{- define "exchange-bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "exchange-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The full label set. */}}
{{- define "exchange-bridge.labels" -}}
helm.sh/chart: {{ include "exchange-bridge.chart" . }}
{{ include "exchange-bridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/component: bridge
app.kubernetes.io/part-of: exchange-bridge
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "exchange-bridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "exchange-bridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "exchange-bridge.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* Paths inside the pod: the image's CMD reads the config from the same place. */}}
{{- define "exchange-bridge.configPath" -}}/etc/exchange-bridge/config.yaml{{- end }}
{{- define "exchange-bridge.secretsPath" -}}/etc/exchange-bridge/secrets{{- end }}

{{/* The Secret the pods mount: existingSecret, or the one the chart creates from .Values.secrets. */}}
{{- define "exchange-bridge.secretName" -}}
{{- if .Values.existingSecret }}
{{- .Values.existingSecret }}
{{- else }}
{{- include "exchange-bridge.fullname" . }}
{{- end }}
{{- end }}

{{/* "true" when the pods mount a credentials Secret. */}}
{{- define "exchange-bridge.hasSecret" -}}
{{- if or .Values.existingSecret .Values.secrets }}true{{ end }}
{{- end }}

{{/*
The config file: .Values.config with the shard count (static mode) and metrics port set, and each Secret key
named in connections[].credentials, schema_registry.username/password and kafka.sasl_password
turned into a
${file:...} reference. Fails when a key is missing from the Secret the chart creates.
*/}}
{{- define "exchange-bridge.config" -}}
{{- $config := omit (deepCopy .Values.config) "connections" "shard" "metrics" }}
{{- $connections := list }}
{{- range $i, $conn := .Values.config.connections | default list }}
{{- $c := deepCopy $conn }}
{{- with $conn.credentials }}
{{- $refs := dict }}
{{- range $field, $key := . }}
{{- include "exchange-bridge.checkSecretKey" (list $ (printf "connections[%d] (%s) credentials.%s" $i $conn.name $field) $key) }}
{{- $_ := set $refs $field (printf "${file:%s/%s}" (include "exchange-bridge.secretsPath" $) $key) }}
{{- end }}
{{- $_ := set $c "credentials" $refs }}
{{- end }}
{{- $connections = append $connections $c }}
{{- end }}
{{- $_ := set $config "connections" $connections }}
{{- with .Values.config.schema_registry }}
{{- $registry := deepCopy . }}
{{- range $field := list "username" "password" }}
{{- with get $registry $field }}
{{- include "exchange-bridge.checkSecretKey" (list $ (printf "schema_registry.%s" $field) .) }}
{{- $_ := set $registry $field (printf "${file:%s/%s}" (include "exchange-bridge.secretsPath" $) .) }}
{{- end }}
{{- end }}
{{- $_ := set $config "schema_registry" $registry }}
{{- end }}
{{- with .Values.config.kafka }}
{{- $kafka := deepCopy . }}
{{- with get $kafka "sasl_password" }}
{{- include "exchange-bridge.checkSecretKey" (list $ "kafka.sasl_password" .) }}
{{- $_ := set $kafka "sasl_password" (printf "${file:%s/%s}" (include "exchange-bridge.secretsPath" $) .) }}
{{- end }}
{{- $_ := set $config "kafka" $kafka }}
{{- end }}
{{- if not (include "exchange-bridge.groupMode" .) }}
{{- $_ := set $config "shard" (dict "count" (int .Values.replicaCount)) }}
{{- end }}
{{- $_ := set $config "metrics" (dict "port" (int .Values.service.port)) }}
{{- toYaml $config }}
{{- end }}

{{/* Fails unless the credentials Secret will hold the key: (list $ "what refers to it" key). */}}
{{- define "exchange-bridge.checkSecretKey" -}}
{{- $root := index . 0 }}
{{- if not (include "exchange-bridge.hasSecret" $root) }}
{{- fail (printf "config.%s names a Secret key: set secrets or existingSecret" (index . 1)) }}
{{- end }}
{{- if and (not $root.Values.existingSecret) (not (hasKey $root.Values.secrets (index . 2))) }}
{{- fail (printf "config.%s names the key %q, which is not in secrets" (index . 1) (index . 2)) }}
{{- end }}
{{- end }}

{{/* The port of host:port (or of a URL's host), or the default given. */}}
{{- define "exchange-bridge.portOf" -}}
{{- $hostport := index . 0 }}
{{- $default := index . 1 }}
{{- $port := regexFind ":[0-9]+$" $hostport | trimPrefix ":" }}
{{- $port | default $default }}
{{- end }}

{{/* The Kafka ports: those of the bootstrap servers, then networkPolicy.egress.kafka.extraPorts. */}}
{{- define "exchange-bridge.kafkaPorts" -}}
{{- $ports := list }}
{{- $servers := .Values.config.kafka.bootstrap_servers | default "localhost:9092" }}
{{- if kindIs "slice" $servers }}{{ $servers = join "," $servers }}{{ end }}
{{- range splitList "," $servers }}
{{- $ports = append $ports (include "exchange-bridge.portOf" (list (trim .) "9092") | int) }}
{{- end }}
{{- range .Values.networkPolicy.egress.kafka.extraPorts }}
{{- $ports = append $ports (int .) }}
{{- end }}
{{- toJson ($ports | uniq | sortAlpha) }}
{{- end }}

{{/* The exchange ports, from the connection URLs (ws: 80 and wss: 443 by default). */}}
{{- define "exchange-bridge.exchangePorts" -}}
{{- $ports := list }}
{{- range .Values.config.connections | default list }}
{{- $url := urlParse .url }}
{{- $ports = append $ports (include "exchange-bridge.portOf" (list $url.host (ternary "443" "80" (eq $url.scheme "wss"))) | int) }}
{{- end }}
{{- toJson ($ports | uniq | sortAlpha) }}
{{- end }}

{{/* "true" in group mode (config.cluster.mode: group): a Deployment, no shards. */}}
{{- define "exchange-bridge.groupMode" -}}
{{- if eq ((.Values.config.cluster | default dict).mode | default "static") "group" }}true{{ end }}
{{- end }}

{{/*
terminationGracePeriodSeconds. In group mode a stopping pod first waits for the pods that take
its connections over (up to config.cluster.handover_timeout_seconds), then flushes (up to
config.shutdown.flush_timeout_seconds): the grace period must be longer than both together, or
Kubernetes kills the pod in the middle of a handover. The numbers below are the bridge's
defaults (tests/deploy/test_chart.py checks that they are); a ${...} reference is not checked.
*/}}
{{- define "exchange-bridge.gracePeriod" -}}
{{- $grace := .Values.terminationGracePeriodSeconds }}
{{- if include "exchange-bridge.groupMode" . }}
{{- $shutdown := .Values.config.shutdown | default dict }}
{{- $cluster := .Values.config.cluster | default dict }}
{{- $flush := ternary $shutdown.flush_timeout_seconds 10 (hasKey $shutdown "flush_timeout_seconds") }}
{{- $handover := ternary $cluster.handover_timeout_seconds 15 (hasKey $cluster "handover_timeout_seconds") }}
{{- if and (not (kindIs "string" $flush)) (not (kindIs "string" $handover)) }}
{{- $needed := addf $flush $handover }}
{{- if le (float64 $grace) $needed }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must be more than config.cluster.handover_timeout_seconds + config.shutdown.flush_timeout_seconds (%v s): a stopping pod hands its connections over, then flushes" $grace $needed) }}
{{- end }}
{{- end }}
{{- end }}
{{- $grace }}
{{- end }}
