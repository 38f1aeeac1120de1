package deploycheck

import (
	"strconv"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// lagMetric is the lag gauge each consumer exports, which its HPA reads
// through an external metrics API.
var lagMetric = map[string]string{
	"read-model-updater": "falcon_updater_lag_events",
	"sparrow-forwarder":  "falcon_forwarder_lag_events",
}

// partitionBound are the services whose useful replicas are at most the
// partition count: each owns or consumes partitions.
var partitionBound = map[string]bool{"write-api": true, "read-model-updater": true, "sparrow-forwarder": true}

// checkScaling: a Deployment either has a fixed replica count or one
// autoscaler (an HPA or a KEDA ScaledObject), never both, so nothing fights
// over replicas; the consumers scale on their lag, read-api on CPU,
// write-api is not autoscaled unless asked to; no autoscaler of a
// partition-bound service goes past the partition count.
func checkScaling(t *testing.T, m *manifests, d *appsv1.Deployment) {
	t.Helper()
	service := d.Spec.Template.Labels["app.kubernetes.io/name"]
	var hpas []*autoscalingv2.HorizontalPodAutoscaler
	for _, h := range m.hpas {
		if h.Spec.ScaleTargetRef.Kind == "Deployment" && h.Spec.ScaleTargetRef.Name == d.Name {
			hpas = append(hpas, h)
		}
	}
	var keda int
	var max int32
	for _, so := range m.scaled {
		if so.Spec.ScaleTargetRef == nil || so.Spec.ScaleTargetRef.Name != d.Name {
			continue
		}
		keda++
		if so.Spec.MaxReplicaCount != nil {
			max = *so.Spec.MaxReplicaCount
		}
		if len(so.Spec.Triggers) != 1 || so.Spec.Triggers[0].Type != "kafka" {
			t.Errorf("%s: ScaledObject %s: want one kafka trigger, on the consumer group's lag", m.source, so.Name)
			continue
		}
		md := so.Spec.Triggers[0].Metadata
		config := configOf(m, d)
		if md["consumerGroup"] != config["FALCON_GROUP"] || md["topic"] != config["FALCON_TOPIC"] || md["allowIdleConsumers"] != "false" {
			t.Errorf("%s: ScaledObject %s watches group %q topic %q (idle consumers %q); the service consumes as %q from %q",
				m.source, so.Name, md["consumerGroup"], md["topic"], md["allowIdleConsumers"], config["FALCON_GROUP"], config["FALCON_TOPIC"])
		}
	}
	autoscalers := len(hpas) + keda
	switch {
	case autoscalers > 1:
		t.Errorf("%s: deployment %s has %d autoscalers", m.source, d.Name, autoscalers)
	case autoscalers == 1 && d.Spec.Replicas != nil:
		t.Errorf("%s: deployment %s sets replicas and has an autoscaler: they fight over the count", m.source, d.Name)
	case autoscalers == 0 && d.Spec.Replicas == nil:
		t.Errorf("%s: deployment %s has neither replicas nor an autoscaler", m.source, d.Name)
	}
	for _, h := range hpas {
		max = h.Spec.MaxReplicas
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas > h.Spec.MaxReplicas || h.Spec.Behavior == nil || h.Spec.Behavior.ScaleDown == nil {
			t.Errorf("%s: HPA %s: min over max, or no slow scale-down", m.source, h.Name)
		}
		for _, metric := range h.Spec.Metrics {
			switch want := lagMetric[service]; {
			case want != "" && (metric.External == nil || metric.External.Metric.Name != want):
				t.Errorf("%s: HPA %s scales a consumer on %v; want its lag, %s", m.source, h.Name, metric.Type, want)
			case want == "" && metric.Resource == nil:
				t.Errorf("%s: HPA %s scales %s on %v; want CPU", m.source, h.Name, service, metric.Type)
			}
		}
	}
	if service == "write-api" && autoscalers > 0 {
		t.Errorf("%s: write-api is autoscaled by default: every scale step moves partitions (docs/runbook.md)", m.source)
	}
	if partitions := partitionsOf(m); partitionBound[service] && partitions > 0 && max > partitions {
		t.Errorf("%s: %s may scale to %d replicas, over the %d partitions", m.source, service, max, partitions)
	}
}

// configOf is the FALCON_* settings of d's ConfigMaps.
func configOf(m *manifests, d *appsv1.Deployment) map[string]string {
	out := map[string]string{}
	for _, from := range d.Spec.Template.Spec.Containers[0].EnvFrom {
		if from.ConfigMapRef == nil {
			continue
		}
		if c := findConfigMap(m, from.ConfigMapRef.Name); c != nil {
			for k, v := range c.Data {
				out[k] = v
			}
		}
	}
	return out
}

// partitionsOf is the partition count the topics job creates the events
// topic with, or 0 when the rendering has no topics job.
func partitionsOf(m *manifests) int32 {
	for _, j := range m.jobs {
		for _, c := range j.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				if e.Name == "FALCON_PARTITIONS" {
					n, _ := strconv.Atoi(e.Value)
					return int32(n)
				}
			}
		}
	}
	return 0
}

// TestChartsRefuseBadScaling: a chart does not render an autoscaler that
// would scale a partition-bound service past the partitions, KEDA on a
// secured Kafka without its credentials, or a values typo.
func TestChartsRefuseBadScaling(t *testing.T) {
	helm := tool(t, "helm")
	buildChartDependencies(t)
	for _, c := range []struct{ chart, set, want string }{
		{"helm/read-model-updater", "autoscaling.maxReplicas=49", "more than the 48 partitions"},
		{"helm/falcon", "global.jwt.issuer=i,global.jwt.audience=a,global.partitions=12,sparrow-forwarder.autoscaling.maxReplicas=13", "more than the 12 partitions"},
		{"helm/write-api", "jwt.issuer=i,jwt.audience=a,autoscaling.enabled=true,autoscaling.maxReplicas=64", "more than the 48 partitions"},
		{"helm/read-model-updater", "autoscaling.keda.enabled=true,kafkaSecurity.tls=true", "TriggerAuthentication"},
		{"helm/read-model-updater", "autoscaling.by=memory", "autoscaling"},
		{"helm/read-model-updater", "autoscalling.enabled=false", "autoscalling"},
	} {
		refuses(t, helm, c.chart, c.set, c.want)
	}
}
