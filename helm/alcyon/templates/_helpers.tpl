{{/* Names ------------------------------------------------------------------------------- */}}

{{- define "alcyon.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "alcyon.fullname" -}}
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

{{- define "alcyon.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The Deployment (and ScaledObject, PDB) name of a worker group: dict "root" $ "group" $g */}}
{{- define "alcyon.groupName" -}}
{{- printf "%s-%s" (include "alcyon.fullname" .root) .group.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "alcyon.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "alcyon.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Labels ------------------------------------------------------------------------------ */}}

{{- define "alcyon.selectorLabels" -}}
app.kubernetes.io/name: {{ include "alcyon.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "alcyon.labels" -}}
helm.sh/chart: {{ include "alcyon.chart" . }}
{{ include "alcyon.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: alcyon
{{- end -}}

{{/* Selector labels of one worker group: dict "root" $ "group" $g */}}
{{- define "alcyon.groupSelectorLabels" -}}
{{ include "alcyon.selectorLabels" .root }}
app.kubernetes.io/component: worker
alcyon/worker-group: {{ .group.name }}
{{- end -}}

{{- define "alcyon.groupLabels" -}}
{{ include "alcyon.labels" .root }}
app.kubernetes.io/component: worker
alcyon/worker-group: {{ .group.name }}
{{- end -}}

{{/* Image --------------------------------------------------------------------------------- */}}

{{- define "alcyon.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Configuration: alcyon.toml ---------------------------------------------------------------
Helm reads every YAML number as a float64 (500 arrives as 500.0) and `toToml` would write
`batch_max_events = 500.0`, which alcyon's integer settings refuse. So the TOML is written
here: whole numbers as integers (alcyon's float settings accept integers), strings
JSON-quoted (valid TOML basic strings), lists inline, maps as inline tables. */}}

{{- define "alcyon.tomlValue" -}}
{{- $v := . -}}
{{- if kindIs "string" $v -}}
{{- toJson $v -}}
{{- else if kindIs "bool" $v -}}
{{- $v -}}
{{- else if kindIs "float64" $v -}}
{{- if eq $v (float64 (int64 $v)) -}}{{ int64 $v }}{{- else -}}{{ $v }}{{- end -}}
{{- else if or (kindIs "int" $v) (kindIs "int64" $v) -}}
{{- $v -}}
{{- else if kindIs "slice" $v -}}
[{{- range $i, $x := $v -}}{{- if $i }}, {{ end -}}{{- include "alcyon.tomlValue" $x -}}{{- end -}}]
{{- else if kindIs "map" $v -}}
{ {{- $sep := "" -}}{{- range $k, $x := $v -}}{{ $sep }}{{ toJson $k }} = {{ include "alcyon.tomlValue" $x }}{{- $sep = ", " -}}{{- end -}} }
{{- else if kindIs "invalid" $v -}}
{{- fail "config: null cannot be written to alcyon.toml (TOML has no null: remove the key instead)" -}}
{{- else -}}
{{- fail (printf "config: a %s value cannot be written to alcyon.toml" (kindOf $v)) -}}
{{- end -}}
{{- end -}}

{{- define "alcyon.toml" -}}
# alcyon.toml rendered by the alcyon Helm chart (values: config.alcyon, config.plugins).
# broker_url, state_url, metrics_*, worker_threads and shutdown_grace_s come from the
# environment of each pod (ALCYON_*), which wins over this file.
[alcyon]
{{- range $key, $value := .Values.config.alcyon }}
{{ $key }} = {{ include "alcyon.tomlValue" $value }}
{{- end }}

[plugins]
disabled = {{ include "alcyon.tomlValue" (.Values.config.plugins.disabled | default list) }}
{{- range $plugin, $table := omit .Values.config.plugins "disabled" }}

[plugins.{{ toJson $plugin }}]
{{- range $key, $value := $table }}
{{ toJson $key }} = {{ include "alcyon.tomlValue" $value }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Pod pieces shared by workers, the topology job and the test pod ------------------------- */}}

{{- define "alcyon.secretsDir" -}}/run/secrets/alcyon{{- end -}}

{{/* Environment: dict "root" $ "group" $g "state" BOOL (group empty: topology job and test pod;
state: the state Secret is mounted, so ALCYON_STATE_URL_FILE points at a file that exists) */}}
{{- define "alcyon.env" -}}
{{- $root := .root -}}
- name: ALCYON_CONFIG
  value: /etc/alcyon/alcyon.toml
- name: ALCYON_BROKER_URL_FILE
  value: {{ include "alcyon.secretsDir" $root }}/broker_url
{{- if and .state $root.Values.secrets.state.name }}
- name: ALCYON_STATE_URL_FILE
  value: {{ include "alcyon.secretsDir" $root }}/state_url
{{- end }}
- name: ALCYON_METRICS_HOST
  value: "0.0.0.0"
- name: ALCYON_METRICS_PORT
  value: {{ $root.Values.metrics.port | int | toString | quote }}
- name: ALCYON_METRICS_DIR
  value: /tmp/alcyon-metrics
{{- if $root.Values.secrets.brokerCA.name }}
- name: ALCYON_AMQP_CA_FILE
  value: {{ include "alcyon.secretsDir" $root }}/amqp_ca.crt
{{- end }}
{{- if and .group (or $root.Values.secrets.brokerCA.name $root.Values.keda.auth.tls.clientCertSecret.name) }}
- name: KEDA_RABBITMQ_TLS  # read by KEDA's TriggerAuthentication (parameter tls), not by alcyon
  value: enable
{{- end }}
{{- with .group }}
- name: ALCYON_SHUTDOWN_GRACE_S
  value: {{ include "alcyon.graceSeconds" (dict "root" $root "group" .) | quote }}
- name: ALCYON_WORKER_THREADS
  value: {{ .threads | int | toString | quote }}
{{- end }}
{{- with $root.Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with .group }}{{- with .extraEnv }}
{{ toYaml . }}
{{- end }}{{- end }}
{{- end -}}

{{/* The shutdown budget of a group (a number, as written) and the pod's grace period. */}}
{{- define "alcyon.graceSeconds" -}}
{{- $g := .group.shutdownGraceSeconds -}}
{{- if kindIs "invalid" $g }}{{ $g = .root.Values.shutdownGraceSeconds }}{{ end -}}
{{- if eq (float64 $g) (float64 (int64 $g)) }}{{ int64 $g }}{{ else }}{{ $g }}{{ end -}}
{{- end -}}

{{- define "alcyon.terminationGracePeriodSeconds" -}}
{{- $g := include "alcyon.graceSeconds" . | float64 -}}
{{- add (ceil $g | int64) 5 -}}
{{- end -}}

{{- define "alcyon.volumeMounts" -}}
{{- $root := .root -}}
- name: config
  mountPath: /etc/alcyon
  readOnly: true
- name: secrets
  mountPath: {{ include "alcyon.secretsDir" $root }}
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- if .data }}
- name: data
  mountPath: {{ $root.Values.dataVolume.mountPath }}
{{- end }}
{{- with $root.Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- with .group }}{{- with .extraVolumeMounts }}
{{ toYaml . }}
{{- end }}{{- end }}
{{- end -}}

{{/* Volumes: dict "root" $ "group" $g "configMap" NAME "data" BOOL "state" BOOL */}}
{{- define "alcyon.volumes" -}}
{{- $root := .root -}}
- name: config
  configMap:
    name: {{ .configMap }}
- name: secrets
  projected:
    defaultMode: 0440
    sources:
      - secret:
          name: {{ $root.Values.secrets.broker.name }}
          items:
            - key: {{ $root.Values.secrets.broker.key }}
              path: broker_url
{{- with $root.Values.secrets.brokerCA }}{{- if .name }}
      - secret:
          name: {{ .name }}
          items:
            - key: {{ .key }}
              path: amqp_ca.crt
{{- end }}{{- end }}
{{- if and .state $root.Values.secrets.state.name }}
      - secret:
          name: {{ $root.Values.secrets.state.name }}
          items:
            - key: {{ $root.Values.secrets.state.key }}
              path: state_url
{{- end }}
- name: tmp
  emptyDir:
    sizeLimit: {{ $root.Values.tmpVolume.sizeLimit }}
{{- if .data }}
- name: data
{{- $claim := include "alcyon.dataClaim" (dict "root" $root "group" .group) }}
{{- if $claim }}
  persistentVolumeClaim:
    claimName: {{ $claim }}
{{- else }}
  emptyDir:
    sizeLimit: {{ $root.Values.dataVolume.sizeLimit }}
{{- end }}
{{- end }}
{{- with $root.Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- with .group }}{{- with .extraVolumes }}
{{ toYaml . }}
{{- end }}{{- end }}
{{- end -}}

{{/* Storage of a group: dict "root" $ "group" $g -> the claim its data volume uses ("" = emptyDir). */}}
{{- define "alcyon.dataClaim" -}}
{{- $p := .group.persistence | default dict -}}
{{- if $p.enabled -}}
{{- $p.existingClaim | default (printf "%s-data" (include "alcyon.groupName" .)) -}}
{{- else -}}
{{- .root.Values.dataVolume.existingClaim -}}
{{- end -}}
{{- end -}}

{{- define "alcyon.dataAccessMode" -}}
{{- $p := .group.persistence | default dict -}}
{{- if $p.enabled }}{{ $p.accessMode | default "ReadWriteOnce" }}{{ else }}{{ .root.Values.dataVolume.accessMode | default "ReadWriteOnce" }}{{ end -}}
{{- end -}}

{{/* Why a group must run in ONE process at a time (one line per reason; empty: it may scale):
an ordered processor (its batches in delivery order hold within one process only, until
partitions land), or a ReadWriteOnce volume (it attaches to one node). dict "root" $ "group" $g */}}
{{- define "alcyon.singleProcessReasons" -}}
{{- $root := .root -}}
{{- range .group.processors -}}
{{- if has . $root.Values.orderedProcessors }}
processor {{ . }} is ordered: its batches must be handled in delivery order, which holds within one process only (one consumer at a time; partitions are a later feature)
{{- end -}}
{{- end -}}
{{- if and (include "alcyon.dataClaim" .) (eq (include "alcyon.dataAccessMode" .) "ReadWriteOnce") }}
its data volume (claim {{ include "alcyon.dataClaim" . }}) is ReadWriteOnce: it attaches to one node, so a second pod elsewhere fails to start
{{- end -}}
{{- end -}}

{{/* The Deployment strategy of a group: its own, else Recreate for a single-process group, else a surge of one. */}}
{{- define "alcyon.strategy" -}}
{{- if .group.strategy -}}
{{- toYaml .group.strategy -}}
{{- else if trim (include "alcyon.singleProcessReasons" .) -}}
type: Recreate
{{- else -}}
type: RollingUpdate
rollingUpdate:
  maxSurge: 1
  maxUnavailable: 0
{{- end -}}
{{- end -}}

{{/* Checks that a schema cannot express. */}}
{{- define "alcyon.validate" -}}
{{- $names := dict -}}
{{- range .Values.workers -}}
{{- if hasKey $names .name -}}
{{- fail (printf "workers: the group name %q is used twice (one Deployment per group)" .name) -}}
{{- end -}}
{{- $_ := set $names .name true -}}
{{- end -}}
{{- $root := . -}}
{{- $rwoUsers := list -}}
{{- range $group := .Values.workers -}}
{{- $ctx := dict "root" $root "group" $group -}}
{{- $keda := mergeOverwrite (deepCopy $root.Values.keda) ($group.keda | default dict) -}}
{{- $why := trim (include "alcyon.singleProcessReasons" $ctx) -}}
{{- if $why -}}
{{- $prefix := printf "workers[%s] must run in one process at a time, because %s" $group.name (replace "\n" "; and " $why) -}}
{{- if gt (int $group.replicas) 1 -}}
{{- fail (printf "%s: set replicas to 1 (it is %v)" $prefix $group.replicas) -}}
{{- end -}}
{{- if $keda.enabled -}}
{{- fail (printf "%s: KEDA would start more replicas: set workers[%s].keda.enabled=false" $prefix $group.name) -}}
{{- end -}}
{{- with $group.strategy -}}
{{- if eq .type "RollingUpdate" -}}
{{- $ru := .rollingUpdate | default dict -}}
{{- $surge := ternary (toString $ru.maxSurge) "25%" (hasKey $ru "maxSurge") -}}
{{- if and (ne $surge "0") (ne $surge "0%") -}}
{{- fail (printf "%s: a rolling update with maxSurge %s starts the new pod beside the old one; use strategy {type: Recreate}, or RollingUpdate with maxSurge 0 and maxUnavailable 1" $prefix $surge) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and (not ($group.persistence | default dict).enabled) $root.Values.dataVolume.existingClaim (eq (include "alcyon.dataAccessMode" $ctx) "ReadWriteOnce") -}}
{{- $rwoUsers = append $rwoUsers $group.name -}}
{{- end -}}
{{- end -}}
{{- if gt (len $rwoUsers) 1 -}}
{{- fail (printf "dataVolume.existingClaim %s is ReadWriteOnce (dataVolume.accessMode) and would be mounted by the pods of %d groups (%s): a ReadWriteOnce volume attaches to one node, so the others fail to start (attach errors, stuck rollouts). Give each group its own volume (workers[].persistence.enabled: true), or use a ReadWriteMany storage class and set dataVolume.accessMode: ReadWriteMany" $root.Values.dataVolume.existingClaim (len $rwoUsers) (join ", " $rwoUsers)) -}}
{{- end -}}
{{- end -}}
