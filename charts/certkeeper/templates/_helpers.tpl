{{/* Names and labels shared by every template. */}}

{{- define "certkeeper.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "certkeeper.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "certkeeper.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "certkeeper.selectorLabels" -}}
app.kubernetes.io/name: {{ include "certkeeper.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "certkeeper.labels" -}}
helm.sh/chart: {{ include "certkeeper.chart" . }}
{{ include "certkeeper.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "certkeeper.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "certkeeper.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "certkeeper.leaseName" -}}
{{- default (include "certkeeper.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{- define "certkeeper.secretNamespaces" -}}
{{- if .Values.rbac.secretNamespaces }}
{{- join "," .Values.rbac.secretNamespaces }}
{{- else }}
{{- .Release.Namespace }}
{{- end }}
{{- end }}

{{/* The prefix of the kubernetes store's objects: state.prefix, else the release's full name (at most 24). */}}
{{- define "certkeeper.statePrefix" -}}
{{- default (include "certkeeper.fullname" . | trunc 24 | trimSuffix "-") .Values.state.prefix }}
{{- end }}

{{/* "true" when the replicas elect a leader: a file store (each replica's own), never a shared one. */}}
{{- define "certkeeper.leaderElection" -}}
{{- and (not (hasKey .Values.config "state")) (eq .Values.state.type "file") | toString }}
{{- end }}

{{/* The config the agent reads: values.config plus what the chart owns (state, http, ha). */}}
{{- define "certkeeper.config" -}}
{{- $managed := dict "http" (dict "listen" (printf "0.0.0.0:%d" (int .Values.service.port))) }}
{{- /* A `state:` in values.config (PostgreSQL shared by the replicas) is the operator's; else state.type: the cluster, or the file store on the pod's volume. */}}
{{- $sharedState := hasKey .Values.config "state" }}
{{- if and (not $sharedState) (eq .Values.state.type "kubernetes") }}
{{- $_ := set $managed "state" (dict "type" "kubernetes" "namespace" .Release.Namespace "prefix" (include "certkeeper.statePrefix" .) "localDir" "/var/lib/certkeeper") }}
{{- else if not $sharedState }}
{{- $_ := set $managed "stateDir" "/var/lib/certkeeper" }}
{{- end }}
{{- /* Leader election only for a file store: with a shared store every replica takes part, a lock per certificate. */}}
{{- if and (gt (int .Values.replicaCount) 1) (include "certkeeper.leaderElection" . | eq "true") }}
{{- $lease := dict "leaseName" (include "certkeeper.leaseName" .) "namespace" .Release.Namespace "leaseDuration" .Values.leaderElection.leaseDuration "renewInterval" .Values.leaderElection.renewInterval }}
{{- $_ := set $managed "ha" (dict "kubernetes" $lease) }}
{{- end }}
{{- toYaml (mergeOverwrite (deepCopy .Values.config) $managed) }}
{{- end }}
