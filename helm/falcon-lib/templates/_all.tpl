{{/*
Every object of one Falcon service: ServiceAccount, ConfigMap, Deployment,
Service, PodDisruptionBudget, NetworkPolicy; with autoscaling.enabled a
HorizontalPodAutoscaler (on CPU, or on lag through an external metric) or a
KEDA ScaledObject (on lag, with autoscaling.keda.enabled); with
metrics.serviceMonitor.enabled, a ServiceMonitor (Prometheus Operator).
*/}}
{{- define "falcon-lib.all" -}}
{{- $name := include "falcon-lib.name" . -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $name }}
  labels:
    {{- include "falcon-lib.labels" . | nindent 4 }}
  {{- with .Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: false
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $name }}
  labels:
    {{- include "falcon-lib.labels" . | nindent 4 }}
data:
  {{- include "falcon-lib.config" . | nindent 2 }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  labels:
    {{- include "falcon-lib.labels" . | nindent 4 }}
spec:
  {{- if not .Values.autoscaling.enabled }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "falcon-lib.selector" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "falcon-lib.labels" . | nindent 8 }}
        {{- with .Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        # A change of configuration rolls the pods.
        checksum/config: {{ include "falcon-lib.config" . | sha256sum }}
        {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ if .Values.ports.grpc }}{{ .Values.ports.admin | quote }}{{ else }}{{ .Values.ports.http | quote }}{{ end }}
        {{- if (include "falcon-lib.tlsValues" . | fromYaml).enabled }}
        prometheus.io/scheme: https
        {{- end }}
    spec:
      serviceAccountName: {{ $name }}
      automountServiceAccountToken: false
      {{- with .Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      # preStop lets the endpoints drop the pod; then SIGTERM drains
      # in-flight requests (up to 10 s) and hands partitions back.
      terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        fsGroup: 65532
        seccompProfile:
          type: RuntimeDefault
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "falcon-lib.selector" . | nindent 14 }}
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "falcon-lib.selector" . | nindent 14 }}
      containers:
        - name: {{ include "falcon-lib.appName" . }}
          image: {{ include "falcon-lib.image" . | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          envFrom:
            - configMapRef:
                name: {{ $name }}
          env:
            {{- $secret := include "falcon-lib.global" (dict "root" . "key" "secretName") }}
            {{- $secretEnv := .Values.secretEnv }}
            {{- if and .Values.uses.kafka (include "falcon-lib.kafkaSecurityValues" . | fromYaml).saslMechanism }}
            {{- $secretEnv = append $secretEnv "FALCON_KAFKA_SASL_PASSWORD" }}
            {{- end }}
            {{- range $secretEnv }}
            - name: {{ . }}
              valueFrom:
                secretKeyRef:
                  name: {{ $secret }}
                  key: {{ . }}
            {{- end }}
            - name: GOMEMLIMIT
              value: {{ include "falcon-lib.goMemLimit" . | quote }}
            {{- with .Values.goGC }}
            - name: GOGC
              value: {{ . | quote }}
            {{- end }}
            {{- if .Values.advertise }}
            - name: POD_IP
              valueFrom:
                fieldRef:
                  fieldPath: status.podIP
            # Other replicas forward commands for this replica's partitions here.
            - name: FALCON_ADVERTISE_ADDR
              value: "$(POD_IP):{{ .Values.ports.grpc }}"
            {{- end }}
            {{- with .Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports:
            {{- if .Values.ports.grpc }}
            - name: grpc
              containerPort: {{ .Values.ports.grpc }}
              protocol: TCP
            {{- end }}
            - name: http
              containerPort: {{ .Values.ports.http }}
              protocol: TCP
            {{- if .Values.ports.grpc }}
            - name: admin
              containerPort: {{ .Values.ports.admin }}
              protocol: TCP
            {{- end }}
          {{- $scheme := ternary "HTTPS" "HTTP" ((include "falcon-lib.tlsValues" . | fromYaml).enabled | default false) }}
          {{- if .Values.startupProbe.enabled }}
          # Until it first answers, the other probes wait: a slow start
          # (Kafka or HBase out of reach) is not a crash.
          startupProbe:
            httpGet:
              path: /healthz
              port: {{ include "falcon-lib.adminPortName" . }}
              scheme: {{ $scheme }}
            periodSeconds: {{ .Values.startupProbe.periodSeconds }}
            failureThreshold: {{ .Values.startupProbe.failureThreshold }}
          {{- end }}
          readinessProbe:
            httpGet:
              path: /readyz
              port: {{ include "falcon-lib.adminPortName" . }}
              scheme: {{ $scheme }}
            periodSeconds: 5
            failureThreshold: 2
          livenessProbe:
            httpGet:
              path: /healthz
              port: {{ include "falcon-lib.adminPortName" . }}
              scheme: {{ $scheme }}
            initialDelaySeconds: 10
            periodSeconds: 10
            failureThreshold: 3
          lifecycle:
            preStop:
              sleep:
                seconds: {{ .Values.preStopSeconds }}
          {{- $mounts := (include "falcon-lib.secretMounts" . | fromYaml).mounts }}
          {{- if or $mounts .Values.extraVolumeMounts }}
          volumeMounts:
            {{- range $mounts }}
            - name: {{ .name }}
              mountPath: {{ .mountPath }}
              readOnly: true
            {{- end }}
            {{- with .Values.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- end }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
      {{- if or $mounts .Values.extraVolumes }}
      volumes:
        {{- with .Values.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- range $mounts }}
        - name: {{ .name }}
          secret:
            secretName: {{ .secret }}
            {{- with .items }}
            items:
              {{- range . }}
              - key: {{ . }}
                path: {{ . }}
              {{- end }}
            {{- end }}
        {{- end }}
      {{- end }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  labels:
    {{- include "falcon-lib.labels" . | nindent 4 }}
spec:
  type: {{ .Values.service.type }}
  selector:
    {{- include "falcon-lib.selector" . | nindent 4 }}
  ports:
    {{- if .Values.ports.grpc }}
    - name: grpc
      port: {{ .Values.ports.grpc }}
      targetPort: grpc
      protocol: TCP
      appProtocol: grpc
    {{- end }}
    - name: http
      port: {{ .Values.ports.http }}
      targetPort: http
      protocol: TCP
    {{- if .Values.ports.grpc }}
    - name: admin
      port: {{ .Values.ports.admin }}
      targetPort: admin
      protocol: TCP
    {{- end }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $name }}
  labels:
    {{- include "falcon-lib.labels" . | nindent 4 }}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      {{- include "falcon-lib.selector" . | nindent 6 }}
{{- if .Values.autoscaling.enabled }}
{{- $as := .Values.autoscaling }}
{{- if .Values.uses.partitions }}
{{- $partitions := int (include "falcon-lib.global" (dict "root" . "key" "partitions")) }}
{{- if gt (int $as.maxReplicas) $partitions }}
{{- fail (printf "autoscaling.maxReplicas=%v is more than the %d partitions of the events topic: a replica beyond them would own no partition (raise partitions first)" $as.maxReplicas $partitions) }}
{{- end }}
{{- end }}
{{- if and (eq $as.by "lag") $as.keda.enabled }}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {{ $name }}
  labels:
    {{- include "falcon-lib.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    name: {{ $name }}
  minReplicaCount: {{ $as.minReplicas }}
  maxReplicaCount: {{ $as.maxReplicas }}
  pollingInterval: {{ $as.keda.pollingInterval }}
  cooldownPeriod: {{ $as.keda.cooldownPeriod }}
  advanced:
    horizontalPodAutoscalerConfig:
      behavior:
        {{- include "falcon-lib.scaleDown" . | nindent 8 }}
  triggers:
    # The consumer group's lag on the events topic, from the brokers.
    - type: kafka
      metadata:
        bootstrapServers: {{ include "falcon-lib.global" (dict "root" . "key" "kafkaBrokers") | quote }}
        consumerGroup: {{ required "consumerGroup is required to scale on lag" .Values.consumerGroup | quote }}
        topic: {{ include "falcon-lib.global" (dict "root" . "key" "topic") | quote }}
        lagThreshold: {{ $as.lagPerReplica | quote }}
        offsetResetPolicy: earliest
        # Never more replicas than partitions with lag.
        allowIdleConsumers: "false"
      {{- $ks := include "falcon-lib.kafkaSecurityValues" . | fromYaml }}
      {{- if or $ks.tls $ks.saslMechanism }}
      authenticationRef:
        name: {{ required "autoscaling.keda.authenticationRef: a TriggerAuthentication with the Kafka TLS/SASL settings is required when kafkaSecurity is on" $as.keda.authenticationRef }}
      {{- end }}
{{- else }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $name }}
  labels:
    {{- include "falcon-lib.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $name }}
  minReplicas: {{ $as.minReplicas }}
  maxReplicas: {{ $as.maxReplicas }}
  metrics:
    {{- if eq $as.by "lag" }}
    # The consumer lag this service exports, through an external metrics
    # API (prometheus-adapter); with KEDA, autoscaling.keda.enabled instead.
    - type: External
      external:
        metric:
          name: {{ required "autoscaling.lagMetric is required to scale on lag" $as.lagMetric }}
          selector:
            matchLabels:
              job: {{ include "falcon-lib.appName" . }}
        target:
          type: AverageValue
          averageValue: {{ $as.lagPerReplica | quote }}
    {{- else }}
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $as.targetCPUUtilizationPercentage }}
    {{- end }}
  behavior:
    {{- include "falcon-lib.scaleDown" . | nindent 4 }}
{{- end }}
{{- end }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ $name }}
  labels:
    {{- include "falcon-lib.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "falcon-lib.selector" . | nindent 6 }}
  policyTypes: ["Ingress", "Egress"]
  ingress:
    {{- if .Values.ports.grpc }}
    # Clients (and the ingress controller) reach the API.
    - ports:
        - port: grpc
        - port: http
    {{- end }}
    # Only Prometheus reaches the admin listener (metrics, profiles); kubelet
    # probes are not subject to policies.
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: {{ .Values.networkPolicy.monitoringNamespace }}
      ports:
        - port: {{ include "falcon-lib.adminPortName" . }}
  egress:
    # DNS.
    - to:
        - namespaceSelector: {}
          podSelector:
            matchLabels:
              k8s-app: kube-dns
      ports:
        - port: 53
          protocol: UDP
        - port: 53
          protocol: TCP
    {{- if .Values.uses.kafka }}
    # Kafka brokers.
    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: {{ .Values.networkPolicy.kafkaNamespace }}
      ports:
        - port: {{ .Values.networkPolicy.kafkaPort }}
    {{- end }}
    {{- if .Values.uses.store }}
    # The HBase Thrift2 gateway.
    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: {{ .Values.networkPolicy.hbaseNamespace }}
      ports:
        - port: {{ .Values.networkPolicy.hbasePort }}
    {{- end }}
    {{- if .Values.uses.legacy }}
    # The legacy system's endpoint.
    - to:
        - ipBlock:
            cidr: {{ .Values.networkPolicy.legacyCIDR }}
      ports:
        - port: {{ .Values.networkPolicy.legacyPort }}
    {{- end }}
    {{- if .Values.advertise }}
    # Other replicas: commands forwarded to a partition's owner.
    - to:
        - podSelector:
            matchLabels:
              {{- include "falcon-lib.selector" . | nindent 14 }}
      ports:
        - port: {{ .Values.ports.grpc }}
    {{- end }}
{{- $sm := include "falcon-lib.serviceMonitorValues" . | fromYaml }}
{{- if $sm.enabled }}
{{- $tls := include "falcon-lib.tlsValues" . | fromYaml }}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ $name }}
  labels:
    {{- include "falcon-lib.labels" . | nindent 4 }}
    {{- with $sm.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  # job is the service's name (write-api, ...), whatever the release: the
  # alerts and dashboards select on it.
  jobLabel: app.kubernetes.io/name
  selector:
    matchLabels:
      {{- include "falcon-lib.selector" . | nindent 6 }}
  endpoints:
    - port: {{ include "falcon-lib.adminPortName" . }}
      path: /metrics
      interval: {{ $sm.interval }}
      {{- if $tls.enabled }}
      scheme: https
      tlsConfig:
        ca:
          secret:
            name: {{ $tls.secretName }}
            key: ca.crt
        serverName: {{ $sm.tlsServerName | default (include "falcon-lib.appName" .) }}
      {{- end }}
{{- end }}
{{- end -}}
