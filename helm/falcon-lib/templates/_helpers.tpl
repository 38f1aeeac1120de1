{{/* The service's name: its app.kubernetes.io/name label, its container's
name and its metrics' job (write-api, ...), whatever the release. */}}
{{- define "falcon-lib.appName" -}}
{{- .Values.nameOverride | default .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Name of the service's objects: prefixed with the release (falcon-write-api),
unless the release name already holds the service's, or fullnameOverride says. */}}
{{- define "falcon-lib.name" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $app := include "falcon-lib.appName" . -}}
{{- if contains $app .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $app | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The container image: by digest when image.digest is set, else by tag. */}}
{{- define "falcon-lib.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* GOMEMLIMIT: 90% of the memory limit, in bytes, so that the Go runtime
collects harder before the kernel kills the pod, leaving room for what is
not Go heap. */}}
{{- define "falcon-lib.goMemLimit" -}}
{{- $q := toString .Values.resources.limits.memory -}}
{{- $digits := regexFind "^[0-9]+" $q -}}
{{- $unit := trimPrefix $digits $q -}}
{{- $mult := dict "" 1 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 -}}
{{- if or (not $digits) (not (hasKey $mult $unit)) -}}
{{- fail (printf "resources.limits.memory=%q: give a whole number of Ki, Mi, Gi or Ti (or k, M, G, T)" $q) -}}
{{- end -}}
{{- div (mul (int64 $digits) (index $mult $unit) 9) 10 -}}
{{- end -}}

{{- define "falcon-lib.labels" -}}
app.kubernetes.io/name: {{ include "falcon-lib.appName" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: falcon
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "falcon-lib.selector" -}}
app.kubernetes.io/name: {{ include "falcon-lib.appName" . }}
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

{{/* The service's TLS settings: global.tls over .Values.tls. */}}
{{- define "falcon-lib.tlsValues" -}}
{{- $g := .Values.global | default dict -}}
{{- toYaml (mergeOverwrite (deepCopy .Values.tls) ($g.tls | default dict)) -}}
{{- end -}}

{{/* How an autoscaler scales the service down: slowly, as every step of a
consumer (or of write-api) is a rebalance. */}}
{{- define "falcon-lib.scaleDown" -}}
scaleDown:
  stabilizationWindowSeconds: 300
  policies:
    - type: Pods
      value: 1
      periodSeconds: 120
{{- end -}}

{{/* The service's ServiceMonitor settings: global.metrics.serviceMonitor over .Values.metrics.serviceMonitor. */}}
{{- define "falcon-lib.serviceMonitorValues" -}}
{{- $g := (.Values.global | default dict).metrics | default dict -}}
{{- toYaml (mergeOverwrite (deepCopy .Values.metrics.serviceMonitor) ($g.serviceMonitor | default dict)) -}}
{{- end -}}

{{/* The service's Kafka security: global.kafkaSecurity over .Values.kafkaSecurity. */}}
{{- define "falcon-lib.kafkaSecurityValues" -}}
{{- $g := .Values.global | default dict -}}
{{- toYaml (mergeOverwrite (deepCopy .Values.kafkaSecurity) ($g.kafkaSecurity | default dict)) -}}
{{- end -}}

{{/* The FALCON_* settings of Kafka security, for a service or a setup job: . is the kafkaSecurity values. */}}
{{- define "falcon-lib.kafkaSecurityConfig" -}}
{{- if .tls }}
FALCON_KAFKA_TLS: "true"
{{- if .caSecretName }}
FALCON_KAFKA_TLS_CA_FILE: "/etc/falcon/kafka-tls/ca.crt"
{{- end }}
{{- end }}
{{- if .saslMechanism }}
{{- if and (eq .saslMechanism "PLAIN") (not .tls) }}
{{- fail "kafkaSecurity.saslMechanism=PLAIN sends the password in clear: set kafkaSecurity.tls" }}
{{- end }}
FALCON_KAFKA_SASL_MECHANISM: {{ .saslMechanism | quote }}
FALCON_KAFKA_SASL_USER: {{ required "kafkaSecurity.saslUser is required with a SASL mechanism" .saslUser | quote }}
{{- end }}
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
{{- include "falcon-lib.kafkaSecurityConfig" (include "falcon-lib.kafkaSecurityValues" . | fromYaml) }}
{{- end }}
{{- $tls := include "falcon-lib.tlsValues" . | fromYaml }}
{{- if $tls.enabled }}
FALCON_TLS_CERT_FILE: "/etc/falcon/tls/tls.crt"
FALCON_TLS_KEY_FILE: "/etc/falcon/tls/tls.key"
{{- if and $tls.clientAuth .Values.ports.grpc }}
FALCON_TLS_CLIENT_CA_FILE: "/etc/falcon/tls/ca.crt"
{{- end }}
{{- if .Values.advertise }}
FALCON_REPLICA_TLS_CA_FILE: "/etc/falcon/tls/ca.crt"
FALCON_REPLICA_TLS_CERT_FILE: "/etc/falcon/tls/tls.crt"
FALCON_REPLICA_TLS_KEY_FILE: "/etc/falcon/tls/tls.key"
FALCON_REPLICA_TLS_SERVER_NAME: {{ $tls.replicaServerName | quote }}
{{- end }}
{{- end }}
{{- if .Values.advertise }}
FALCON_PARTITIONS: {{ include "falcon-lib.global" (dict "root" . "key" "partitions") | quote }}
{{- end }}
{{- if .Values.consumerGroup }}
FALCON_GROUP: {{ .Values.consumerGroup | quote }}
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

{{/* The volumes the service mounts, as a list of {name, mountPath, secret, items}. */}}
{{- define "falcon-lib.secretMounts" -}}
{{- $mounts := list }}
{{- if include "falcon-lib.jwt" . }}
{{- $mounts = append $mounts (dict "name" "jwt" "mountPath" "/etc/falcon/jwt" "secret" .Values.jwt.secretName "items" (list "public-key.pem")) }}
{{- end }}
{{- $tls := include "falcon-lib.tlsValues" . | fromYaml }}
{{- if $tls.enabled }}
{{- $mounts = append $mounts (dict "name" "tls" "mountPath" "/etc/falcon/tls" "secret" (required "tls.secretName is required with tls.enabled" $tls.secretName) "items" (list)) }}
{{- end }}
{{- $ks := include "falcon-lib.kafkaSecurityValues" . | fromYaml }}
{{- if and .Values.uses.kafka $ks.tls $ks.caSecretName }}
{{- $mounts = append $mounts (dict "name" "kafka-tls" "mountPath" "/etc/falcon/kafka-tls" "secret" $ks.caSecretName "items" (list "ca.crt")) }}
{{- end }}
{{- toYaml (dict "mounts" $mounts) }}
{{- end -}}

{{/* The port probes and Prometheus use: the admin port of a service with REST, else its HTTP port (which is its admin listener). */}}
{{- define "falcon-lib.adminPortName" -}}
{{- if .Values.ports.grpc }}admin{{ else }}http{{ end }}
{{- end -}}
