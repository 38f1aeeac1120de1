{{/* Name of the service's objects. */}}
{{- define "falcon-lib.name" -}}
{{- .Values.nameOverride | default .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "falcon-lib.labels" -}}
app.kubernetes.io/name: {{ include "falcon-lib.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: falcon
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "falcon-lib.selector" -}}
app.kubernetes.io/name: {{ include "falcon-lib.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* A value from .Values.global when set there, else from .Values. */}}
{{- define "falcon-lib.global" -}}
{{- $g := .root.Values.global | default dict -}}
{{- if hasKey $g .key -}}{{ index $g .key }}{{- else -}}{{ index .root.Values .key }}{{- end -}}
{{- end -}}

{{/* The FALCON_* configuration of the service. */}}
{{- define "falcon-lib.config" -}}
{{- if .Values.ports.grpc }}
{{- $auth := include "falcon-lib.global" (dict "root" . "key" "auth") }}
FALCON_AUTH: {{ $auth | quote }}
{{- if eq $auth "jwt" }}
FALCON_JWT_PUBLIC_KEY_FILE: "/etc/falcon/jwt/public-key.pem"
{{- with .Values.jwt.issuer }}
FALCON_JWT_ISSUER: {{ . | quote }}
{{- end }}
{{- with .Values.jwt.audience }}
FALCON_JWT_AUDIENCE: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}
FALCON_LOG_LEVEL: {{ include "falcon-lib.global" (dict "root" . "key" "logLevel") | quote }}
FALCON_HTTP_ADDR: "0.0.0.0:{{ .Values.ports.http }}"
{{- if .Values.ports.grpc }}
FALCON_GRPC_ADDR: "0.0.0.0:{{ .Values.ports.grpc }}"
{{- end }}
{{- if .Values.uses.kafka }}
FALCON_KAFKA_BROKERS: {{ include "falcon-lib.global" (dict "root" . "key" "kafkaBrokers") | quote }}
FALCON_TOPIC: {{ include "falcon-lib.global" (dict "root" . "key" "topic") | quote }}
{{- end }}
{{- if .Values.uses.store }}
FALCON_STORE: {{ include "falcon-lib.global" (dict "root" . "key" "store") | quote }}
{{- end }}
{{- range $k, $v := .Values.config }}
{{ $k }}: {{ $v | quote }}
{{- end }}
{{- end -}}

{{/* True when the service verifies JWTs (and mounts the key). */}}
{{- define "falcon-lib.jwt" -}}
{{- if and .Values.ports.grpc (eq (include "falcon-lib.global" (dict "root" . "key" "auth")) "jwt") }}true{{ end }}
{{- end -}}
