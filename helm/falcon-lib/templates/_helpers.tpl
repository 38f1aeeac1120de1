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

{{/* The service's jwt settings: global.jwt (set by the umbrella chart) over .Values.jwt. */}}
{{- define "falcon-lib.jwtValues" -}}
{{- $g := .Values.global | default dict -}}
{{- toYaml (mergeOverwrite (deepCopy .Values.jwt) ($g.jwt | default dict)) -}}
{{- end -}}

{{/* The FALCON_* configuration of the service. */}}
{{- define "falcon-lib.config" -}}
{{- if .Values.ports.grpc }}
{{- $auth := include "falcon-lib.global" (dict "root" . "key" "auth") }}
FALCON_AUTH: {{ $auth | quote }}
{{- if eq $auth "jwt" }}
{{- $jwt := include "falcon-lib.jwtValues" . | fromYaml }}
{{- if $jwt.jwksURL }}
FALCON_JWT_JWKS_URL: {{ $jwt.jwksURL | quote }}
{{- else }}
FALCON_JWT_PUBLIC_KEY_FILE: "/etc/falcon/jwt/public-key.pem"
{{- end }}
FALCON_JWT_ISSUER: {{ required "jwt.issuer is required with auth=jwt: the iss every token must carry" $jwt.issuer | quote }}
FALCON_JWT_AUDIENCE: {{ required "jwt.audience is required with auth=jwt: the aud every token must carry" $jwt.audience | quote }}
FALCON_JWT_MAX_LIFETIME: {{ $jwt.maxLifetime | default "24h" | quote }}
{{- else if .Values.insecureDevAuth }}
FALCON_INSECURE_DEV_AUTH: "true"
{{- else }}
{{- fail "auth=dev trusts X-Account-Id from anyone who reaches the pods: set insecureDevAuth=true if this is a closed development cluster, or use auth=jwt" }}
{{- end }}
FALCON_METRICS_ADDR: "0.0.0.0:{{ .Values.ports.admin }}"
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

{{/* True when the service verifies JWTs with a key from a Secret (mounted). */}}
{{- define "falcon-lib.jwt" -}}
{{- $jwt := include "falcon-lib.jwtValues" . | fromYaml }}
{{- if and .Values.ports.grpc (eq (include "falcon-lib.global" (dict "root" . "key" "auth")) "jwt") (not $jwt.jwksURL) }}true{{ end }}
{{- end -}}

{{/* The port probes and Prometheus use: the admin port of a service with REST, else its HTTP port (which is its admin listener). */}}
{{- define "falcon-lib.adminPortName" -}}
{{- if .Values.ports.grpc }}admin{{ else }}http{{ end }}
{{- end -}}
