package deploycheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// checkGoMemLimit: GOMEMLIMIT is 90% of the container's memory limit, so
// that the Go runtime collects harder before the kernel kills the pod.
func checkGoMemLimit(t *testing.T, m *manifests, d *appsv1.Deployment) {
	t.Helper()
	c := d.Spec.Template.Spec.Containers[0]
	limit := c.Resources.Limits.Memory()
	for _, e := range c.Env {
		if e.Name != "GOMEMLIMIT" {
			continue
		}
		got, err := strconv.ParseInt(e.Value, 10, 64)
		if want := limit.Value() * 9 / 10; err != nil || got != want {
			t.Errorf("%s: deployment %s: GOMEMLIMIT=%q, want %d (90%% of the %s limit)", m.source, d.Name, e.Value, want, limit)
		}
		return
	}
	t.Errorf("%s: deployment %s has no GOMEMLIMIT", m.source, d.Name)
}

// checkGoGC: read-api collects at 400 % heap growth, in every rendering
// (docs/benchmarks.md, "Collections"); no deployment collects more often
// than Go's default.
func checkGoGC(t *testing.T, m *manifests, d *appsv1.Deployment) {
	t.Helper()
	got := ""
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "GOGC" {
			got = e.Value
		}
	}
	if d.Spec.Template.Labels["app.kubernetes.io/name"] == "read-api" && got != "400" {
		t.Errorf("%s: deployment %s: GOGC=%q, want 400", m.source, d.Name, got)
	}
	if n, err := strconv.Atoi(got); got != "" && (err != nil || n < 100) {
		t.Errorf("%s: deployment %s: GOGC=%q, want a percentage of 100 or more", m.source, d.Name, got)
	}
}

// TestKustomizePatchesByName: overlays patch lists by their items' names
// (strategic merge), never by index: a base that gains a container, an
// environment variable or a volume would silently patch the wrong one.
func TestKustomizePatchesByName(t *testing.T) {
	files, err := filepath.Glob("../k8s/*/*/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	byIndex := regexp.MustCompile(`(?m)path: \S*/[0-9]+(/|$)`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := byIndex.Find(b); m != nil {
			t.Errorf("%s patches by list index: %s", f, m)
		}
	}
	if len(files) < 3 {
		t.Errorf("found %d kustomizations, want the overlays and the components", len(files))
	}
}

// TestChartsRefuseTypos: every values schema refuses keys it does not
// know, at the top and inside, so a typo fails instead of being ignored.
func TestChartsRefuseTypos(t *testing.T) {
	helm := tool(t, "helm")
	buildChartDependencies(t)
	const issuer = "jwt.issuer=i,jwt.audience=a,"
	for _, c := range []struct{ chart, set, want string }{
		{"helm/read-api", issuer + "replicaCont=3", "replicaCont"},
		{"helm/read-api", issuer + "image.tagg=1", "tagg"},
		{"helm/read-model-updater", "autoscalling.enabled=false", "autoscalling"},
		{"helm/read-model-updater", "networkPolicy.kafkaNamespce=x", "kafkaNamespce"},
		{"helm/sparrow-forwarder", "startupProbe.periodSecond=1", "periodSecond"},
		{"helm/write-api", issuer + "image.digest=latest", "digest"},
		{"helm/falcon", "global.jwt.issuer=i,global.jwt.audience=a,globl.auth=dev", "globl"},
		{"helm/falcon", "global.jwt.issuer=i,global.jwt.audience=a,monitoring.dashboard.enabled=true", "dashboard"},
	} {
		refuses(t, helm, c.chart, c.set, c.want)
	}
}

// TestChartConventions: objects are named after the release, images can be
// pinned by digest, and what an SRE adds to pods (annotations, labels,
// affinity, pull secrets, environment, volumes, a service account
// annotation) reaches them.
func TestChartConventions(t *testing.T) {
	helm := tool(t, "helm")
	buildChartDependencies(t)
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	set := strings.Join([]string{
		"jwt.issuer=i", "jwt.audience=a", "image.digest=" + digest,
		"podAnnotations.team=chat", "podLabels.tier=api", "imagePullSecrets[0].name=regcred",
		"serviceAccount.annotations.role=falcon-read",
		"affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=pool",
		"affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists",
		"extraEnv[0].name=GODEBUG", "extraEnv[0].value=madvdontneed=1",
		"extraVolumes[0].name=scratch", "extraVolumes[0].emptyDir.medium=Memory",
		"extraVolumeMounts[0].name=scratch", "extraVolumeMounts[0].mountPath=/scratch",
	}, ",")
	m := decode(t, "read-api conventions", run(t, helm, "template", "chat", "helm/read-api", "--kube-version", kubeVersion, "--set", set))
	if len(m.deployments) != 1 {
		t.Fatalf("%d deployments", len(m.deployments))
	}
	d := m.deployments[0]
	ps := d.Spec.Template.Spec
	c := ps.Containers[0]
	checks := map[string]bool{
		"named after the release":       d.Name == "chat-read-api" && ps.ServiceAccountName == "chat-read-api",
		"the container keeps its name":  c.Name == "read-api",
		"image by digest":               c.Image == "ghcr.io/falcon-chat/read-api@"+digest,
		"pod annotation":                d.Spec.Template.Annotations["team"] == "chat",
		"pod label":                     d.Spec.Template.Labels["tier"] == "api",
		"pull secret":                   len(ps.ImagePullSecrets) == 1 && ps.ImagePullSecrets[0].Name == "regcred",
		"affinity":                      ps.Affinity != nil && ps.Affinity.NodeAffinity != nil,
		"extra volume and mount":        len(ps.Volumes) > 0 && ps.Volumes[0].Name == "scratch" && len(c.VolumeMounts) > 0,
		"startup probe":                 c.StartupProbe != nil && c.StartupProbe.HTTPGet != nil,
		"service account annotation":    len(m.accounts) == 1 && m.accounts[0].Annotations["role"] == "falcon-read",
		"job label is the service name": d.Spec.Template.Labels["app.kubernetes.io/name"] == "read-api",
	}
	env := false
	for _, e := range c.Env {
		env = env || e.Name == "GODEBUG" && e.Value == "madvdontneed=1"
	}
	checks["extra environment"] = env
	for what, ok := range checks {
		if !ok {
			t.Errorf("read-api rendered with %s: %s does not hold", set, what)
		}
	}
}
