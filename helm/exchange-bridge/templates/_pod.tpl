{{/*
The pod template of both workloads: the StatefulSet (static mode) and the Deployment (group
mode). Only static mode takes the shard index from the pod ordinal.
*/}}
{{- define "exchange-bridge.podTemplate" -}}
metadata:
  labels:
    {{- include "exchange-bridge.labels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # Roll the pods when the config (static mode: with the shard count) or the credentials
    # change.
    checksum/config: {{ include "exchange-bridge.config" . | sha256sum }}
    {{- if and (not .Values.existingSecret) .Values.secrets }}
    checksum/secret: {{ toJson .Values.secrets | sha256sum }}
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "exchange-bridge.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ include "exchange-bridge.gracePeriod" . }}
  containers:
    - name: bridge
      image: {{ include "exchange-bridge.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args: ["run", "--config", {{ include "exchange-bridge.configPath" . | quote }}]
      env:
        {{- if not (include "exchange-bridge.groupMode" .) }}
        # The shard index is the StatefulSet ordinal (pod label since Kubernetes 1.28).
        - name: BRIDGE_SHARD__INDEX
          valueFrom:
            fieldRef:
              fieldPath: metadata.labels['apps.kubernetes.io/pod-index']
        {{- end }}
        # The instance name in every record and in bridge_info.
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with .Values.extraEnvFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      ports:
        - name: metrics
          containerPort: {{ .Values.service.port }}
          protocol: TCP
      livenessProbe:
        httpGet:
          path: /healthz
          port: metrics
        {{- toYaml .Values.livenessProbe | nindent 8 }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: metrics
        {{- toYaml .Values.readinessProbe | nindent 8 }}
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: {{ include "exchange-bridge.configPath" . }}
          subPath: config.yaml
          readOnly: true
        {{- if include "exchange-bridge.hasSecret" . }}
        - name: secrets
          mountPath: {{ include "exchange-bridge.secretsPath" . }}
          readOnly: true
        {{- end }}
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: config
      configMap:
        name: {{ include "exchange-bridge.fullname" . }}
    {{- if include "exchange-bridge.hasSecret" . }}
    - name: secrets
      secret:
        secretName: {{ include "exchange-bridge.secretName" . }}
        defaultMode: 0440
    {{- end }}
    - name: tmp
      emptyDir:
        sizeLimit: {{ .Values.tmpSizeLimit }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- range . }}
    - {{- toYaml (ternary . (merge (dict "labelSelector" (dict "matchLabels" (include "exchange-bridge.selectorLabels" $ | fromYaml))) .) (hasKey . "labelSelector")) | nindent 6 }}
    {{- end }}
  {{- end }}
{{- end }}
