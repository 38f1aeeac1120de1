package deploycheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"
)

// kubeVersion is what helm template renders for: a plain `go install` of
// helm assumes Kubernetes 1.20.
const kubeVersion = "1.31.0"

// manifests is one rendered set of objects, decoded strictly.
type manifests struct {
	source      string
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	configMaps  []*corev1.ConfigMap
	secrets     []*corev1.Secret
	accounts    []*corev1.ServiceAccount
	pdbs        []*policyv1.PodDisruptionBudget
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	policies    []*networkingv1.NetworkPolicy
	jobs        []*batchv1.Job
	scaled      []*kedav1alpha1.ScaledObject
	httpRoutes  []*gatewayv1.HTTPRoute
	grpcRoutes  []*gatewayv1.GRPCRoute
	ingresses   []*networkingv1.Ingress
	monitors    []*monitoringv1.ServiceMonitor
	rules       []*monitoringv1.PrometheusRule
}

func tool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	gobin, _ := exec.Command("go", "env", "GOPATH").Output()
	p := filepath.Join(strings.TrimSpace(string(gobin)), "bin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	t.Fatalf("%s is not installed; `make test` installs it (go install), or see the Makefile's deploy-tools target", name)
	return ""
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = ".."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return out
}

var helmDeps sync.Once

// buildChartDependencies packages the library chart into the service charts
// and those into the umbrella chart (file:// dependencies, no network).
func buildChartDependencies(t *testing.T) {
	helm := tool(t, "helm")
	helmDeps.Do(func() {
		for _, c := range []string{"helm/write-api", "helm/read-api", "helm/read-model-updater", "helm/sparrow-forwarder", "helm/falcon"} {
			run(t, helm, "dependency", "build", c)
		}
	})
}

// decode splits a multi-document YAML stream and decodes each object into
// its Kubernetes type, refusing unknown fields and unknown kinds.
func decode(t *testing.T, source string, stream []byte) *manifests {
	t.Helper()
	m := &manifests{source: source}
	for i, doc := range splitYAML(stream) {
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatalf("%s: document %d is not YAML: %v", source, i, err)
		}
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := json.Unmarshal(js, &meta); err != nil {
			t.Fatalf("%s: document %d: %v", source, i, err)
		}
		var target any
		switch meta.APIVersion + "/" + meta.Kind {
		case "apps/v1/Deployment":
			d := &appsv1.Deployment{}
			m.deployments, target = append(m.deployments, d), d
		case "v1/Service":
			s := &corev1.Service{}
			m.services, target = append(m.services, s), s
		case "v1/ConfigMap":
			c := &corev1.ConfigMap{}
			m.configMaps, target = append(m.configMaps, c), c
		case "v1/Secret":
			s := &corev1.Secret{}
			m.secrets, target = append(m.secrets, s), s
		case "v1/ServiceAccount":
			a := &corev1.ServiceAccount{}
			m.accounts, target = append(m.accounts, a), a
		case "policy/v1/PodDisruptionBudget":
			p := &policyv1.PodDisruptionBudget{}
			m.pdbs, target = append(m.pdbs, p), p
		case "autoscaling/v2/HorizontalPodAutoscaler":
			h := &autoscalingv2.HorizontalPodAutoscaler{}
			m.hpas, target = append(m.hpas, h), h
		case "networking.k8s.io/v1/NetworkPolicy":
			n := &networkingv1.NetworkPolicy{}
			m.policies, target = append(m.policies, n), n
		case "batch/v1/Job":
			j := &batchv1.Job{}
			m.jobs, target = append(m.jobs, j), j
		case "gateway.networking.k8s.io/v1/HTTPRoute":
			r := &gatewayv1.HTTPRoute{}
			m.httpRoutes, target = append(m.httpRoutes, r), r
		case "gateway.networking.k8s.io/v1/GRPCRoute":
			r := &gatewayv1.GRPCRoute{}
			m.grpcRoutes, target = append(m.grpcRoutes, r), r
		case "networking.k8s.io/v1/Ingress":
			i := &networkingv1.Ingress{}
			m.ingresses, target = append(m.ingresses, i), i
		case "keda.sh/v1alpha1/ScaledObject":
			so := &kedav1alpha1.ScaledObject{}
			m.scaled, target = append(m.scaled, so), so
		case "monitoring.coreos.com/v1/ServiceMonitor":
			sm := &monitoringv1.ServiceMonitor{}
			m.monitors, target = append(m.monitors, sm), sm
		case "monitoring.coreos.com/v1/PrometheusRule":
			r := &monitoringv1.PrometheusRule{}
			m.rules, target = append(m.rules, r), r
		default:
			t.Fatalf("%s: document %d has kind %s/%s, which no check knows", source, i, meta.APIVersion, meta.Kind)
		}
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(target); err != nil {
			t.Fatalf("%s: %s %d does not decode strictly: %v\n%s", source, meta.Kind, i, err, doc)
		}
	}
	return m
}

func splitYAML(stream []byte) [][]byte {
	var docs [][]byte
	for _, part := range strings.Split("\n"+string(stream), "\n---") {
		lines := []string{}
		for _, l := range strings.Split(part, "\n") {
			if strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#") {
				continue
			}
			lines = append(lines, l)
		}
		if len(lines) > 0 {
			docs = append(docs, []byte(strings.Join(lines, "\n")))
		}
	}
	return docs
}

// renderings returns every rendered set the project ships.
func renderings(t *testing.T) []*manifests {
	t.Helper()
	kustomize := tool(t, "kustomize")
	helm := tool(t, "helm")
	buildChartDependencies(t)
	var out []*manifests
	for _, k := range []string{"k8s/base", "k8s/overlays/dev", "k8s/overlays/prod",
		"k8s/base/write-api", "k8s/base/read-api", "k8s/base/read-model-updater", "k8s/base/sparrow-forwarder"} {
		out = append(out, decode(t, "kustomize "+k, run(t, kustomize, "build", k)))
	}
	// The charts need the token issuer (jwt is their default identity).
	const issuer = "jwt.issuer=https://id.example.com,jwt.audience=falcon"
	for _, c := range []struct{ chart, values, set string }{
		{"helm/write-api", "", issuer}, {"helm/read-api", "", issuer}, {"helm/read-model-updater", "", ""}, {"helm/sparrow-forwarder", "", ""},
		{"helm/falcon", "", "global." + strings.ReplaceAll(issuer, ",", ",global.")},
		{"helm/falcon", "", "global.auth=dev,write-api.insecureDevAuth=true,read-api.insecureDevAuth=true"},
		{"helm/falcon", "helm/falcon/values-prod.yaml", ""},
	} {
		args := []string{"template", "falcon", c.chart, "--kube-version", kubeVersion}
		lint := []string{"lint", "--strict", c.chart}
		for _, opt := range [][2]string{{"-f", c.values}, {"--set", c.set}} {
			if opt[1] != "" {
				args = append(args, opt[0], opt[1])
				lint = append(lint, opt[0], opt[1])
			}
		}
		run(t, helm, lint...)
		out = append(out, decode(t, strings.TrimSpace(fmt.Sprintf("helm %s %s %s", c.chart, c.values, c.set)), run(t, helm, args...)))
	}
	return out
}

// TestChartsRefuseAnInsecureIdentity: a chart does not render with the
// development identity on addresses others reach unless asked to, nor
// with JWTs but no issuer or audience.
func TestChartsRefuseAnInsecureIdentity(t *testing.T) {
	helm := tool(t, "helm")
	buildChartDependencies(t)
	for _, c := range []struct{ set, want string }{
		{"auth=dev", "insecureDevAuth"},
		{"jwt.audience=falcon", "jwt.issuer is required"},
		{"jwt.issuer=https://id.example.com", "jwt.audience is required"},
	} {
		refuses(t, helm, "helm/read-api", c.set, c.want)
	}
}

// refuses checks that helm refuses to render chart with set, naming want.
func refuses(t *testing.T, helm, chart, set, want string) {
	t.Helper()
	cmd := exec.Command(helm, "template", "falcon", chart, "--set", set)
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), want) {
		t.Errorf("helm template %s --set %s: %v\n%s\nwant a refusal naming %s", chart, set, err, out, want)
	}
}

// pod is the containers of one workload's pod template.
type pod struct {
	name       string
	containers []corev1.Container
}

// podSpecs are the pod templates of every Deployment and Job in m, with
// their init containers.
func podSpecs(m *manifests) []pod {
	var out []pod
	add := func(kind, name string, ps corev1.PodSpec) {
		out = append(out, pod{name: kind + " " + name, containers: append(slices.Clone(ps.InitContainers), ps.Containers...)})
	}
	for _, d := range m.deployments {
		add("deployment", d.Name, d.Spec.Template.Spec)
	}
	for _, j := range m.jobs {
		add("job", j.Name, j.Spec.Template.Spec)
	}
	return out
}
