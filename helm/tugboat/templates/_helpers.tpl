{{/* Names and labels. */}}
{{- define "tugboat.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tugboat.fullname" -}}
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

{{- define "tugboat.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tugboat.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tugboat.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "tugboat.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "tugboat.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tugboat.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tugboat.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* One env var read from a Secret key. Args: name, secret, key, optional. */}}
{{- define "tugboat.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret | quote }}
      key: {{ .key | quote }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end -}}

{{/*
Refuse configurations that cannot work, with a message that says how to fix them.
*/}}
{{- define "tugboat.validate" -}}
{{- $db := .Values.database -}}
{{- if not (has $db.type (list "sqlite" "postgresql")) -}}
{{- fail (printf "database.type must be sqlite or postgresql, not %q" $db.type) -}}
{{- end -}}
{{- if and (gt (int .Values.replicaCount) 1) (ne $db.type "postgresql") -}}
{{- fail (printf "replicaCount is %d but the database is SQLite: more than one replica REQUIRES PostgreSQL (approvals, incidents and the audit trail must be shared). Set database.type=postgresql and database.existingSecret to a Secret holding TUGBOAT_DATABASE_URL, or set replicaCount=1." (int .Values.replicaCount)) -}}
{{- end -}}
{{- if and (eq $db.type "postgresql") (not $db.existingSecret) -}}
{{- fail "database.type is postgresql but database.existingSecret is empty: create a Secret holding the SQLAlchemy URL (postgresql+psycopg://USER:PASSWORD@HOST:5432/DB) under the key database.urlKey and name it in database.existingSecret." -}}
{{- end -}}
{{- if not (has .Values.slackMode (list "http" "socket")) -}}
{{- fail (printf "slackMode must be http or socket, not %q" .Values.slackMode) -}}
{{- end -}}
{{- if and .Values.serviceMonitor.enabled (not .Values.service.enabled) -}}
{{- fail "serviceMonitor.enabled needs service.enabled: the ServiceMonitor scrapes /metrics through the Service." -}}
{{- end -}}
{{- if and .Values.ingress.enabled (not .Values.service.enabled) -}}
{{- fail "ingress.enabled needs service.enabled: the Ingress routes to the Service." -}}
{{- end -}}
{{- if and (eq .Values.slackMode "http") .Values.secrets.slack.existingSecret (not .Values.secrets.slack.signingSecretKey) -}}
{{- fail "slackMode http verifies Slack's request signatures: set secrets.slack.signingSecretKey (SLACK_SIGNING_SECRET)." -}}
{{- end -}}
{{- if and (eq .Values.slackMode "socket") .Values.secrets.slack.existingSecret (not .Values.secrets.slack.appTokenKey) -}}
{{- fail "slackMode socket needs an app-level token: set secrets.slack.appTokenKey (SLACK_APP_TOKEN)." -}}
{{- end -}}
{{- end -}}
