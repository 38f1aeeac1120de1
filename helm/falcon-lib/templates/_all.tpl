{{/*
Every object of one Falcon service: ServiceAccount, ConfigMap, Deployment,
Service, PodDisruptionBudget, HorizontalPodAutoscaler, NetworkPolicy and,
with metrics.serviceMonitor.enabled, a ServiceMonitor (Prometheus Operator).
*/}}
{{- define "falcon-lib.all" -}}
{{- $name := include "falcon-lib.name" . -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $name }}
  labels:
    {{- include "falcon-lib.labels" . | nindent 4 }}
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
      annotations:
        checksum/config: {{ include "falcon-lib.config" . | sha256sum }}
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ if .Values.ports.grpc }}{{ .Values.ports.admin | quote }}{{ else }}{{ .Values.ports.http | quote }}{{ end }}
        {{- if (include "falcon-lib.tlsValues" . | fromYaml).enabled }}
        prometheus.io/scheme: https
        {{- end }}
    spec:
      serviceAccountName: {{ $name }}
      automountServiceAccountToken: false
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
        - name: {{ $name }}
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
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
              valueFrom:
                resourceFieldRef:
                  resource: limits.memory
            {{- if .Values.advertise }}
            - name: POD_IP
              valueFrom:
                fieldRef:
                  fieldPath: status.podIP
            # Other replicas forward commands for this replica's partitions here.
            - name: FALCON_ADVERTISE_ADDR
              value: "$(POD_IP):{{ .Values.ports.grpc }}"
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
          {{- if $mounts }}
          volumeMounts:
            {{- range $mounts }}
            - name: {{ .name }}
              mountPath: {{ .mountPath }}
              readOnly: true
            {{- end }}
          {{- end }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
      {{- if $mounts }}
      volumes:
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
  minReplicas: {{ if .Values.autoscaling.enabled }}{{ .Values.autoscaling.minReplicas }}{{ else }}{{ .Values.replicaCount }}{{ end }}
  maxReplicas: {{ if .Values.autoscaling.enabled }}{{ .Values.autoscaling.maxReplicas }}{{ else }}{{ .Values.replicaCount }}{{ end }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .Values.autoscaling.targetCPUUtilizationPercentage }}
  behavior:
    scaleDown:
      # Scaling a consumer group down rebalances it: do it slowly.
      stabilizationWindowSeconds: 300
      policies:
        - type: Pods
          value: 1
          periodSeconds: 120
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
        serverName: {{ $sm.tlsServerName | default (include "falcon-lib.name" .) }}
      {{- end }}
{{- end }}
{{- end -}}
