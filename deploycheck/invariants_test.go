package deploycheck

import (
	"flag"
	"net"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/falcon-chat/falcon/libs/flagenv"
	"github.com/falcon-chat/falcon/libs/server"
	"github.com/falcon-chat/falcon/libs/setup"
	"github.com/falcon-chat/falcon/services/read-api/readapi"
	"github.com/falcon-chat/falcon/services/read-model-updater/updater"
	"github.com/falcon-chat/falcon/services/sparrow-forwarder/forwarder"
	"github.com/falcon-chat/falcon/services/write-api/writeapi"
)

// drainSeconds is how long a service drains after SIGTERM
// (server.DrainTimeout); the grace period must cover preStop plus it.
var drainSeconds = int64(server.DrainTimeout.Seconds())

// envNames is the FALCON_* variable of every flag each binary accepts.
func envNames() map[string]map[string]bool {
	of := func(register ...func(*flag.FlagSet)) map[string]bool {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		for _, r := range register {
			r(fs)
		}
		names := map[string]bool{}
		fs.VisitAll(func(f *flag.Flag) { names[flagenv.EnvName(f.Name)] = true })
		return names
	}
	common := (&server.Common{}).RegisterFlags
	return map[string]map[string]bool{
		"write-api":          of((&writeapi.Config{}).RegisterFlags, common),
		"read-api":           of((&readapi.Config{}).RegisterFlags, common),
		"read-model-updater": of((&updater.Config{}).RegisterFlags, common),
		"sparrow-forwarder":  of((&forwarder.Config{}).RegisterFlags, common),
	}
}

func selects(sel map[string]string, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func selectorOf(s *metav1.LabelSelector) map[string]string {
	if s == nil {
		return nil
	}
	return s.MatchLabels
}

func TestEveryManifestDecodesAndKeepsTheInvariants(t *testing.T) {
	flags := envNames()
	for _, m := range renderings(t) {
		t.Run(m.source, func(t *testing.T) {
			if len(m.deployments) == 0 {
				t.Fatal("renders no Deployment")
			}
			for _, d := range m.deployments {
				checkDeployment(t, m, d, flags)
			}
			for _, j := range m.jobs {
				ps := j.Spec.Template.Spec
				if ps.SecurityContext == nil || ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot {
					t.Errorf("job %s may run as root", j.Name)
				}
				for _, c := range ps.Containers {
					checkContainerHardening(t, "job "+j.Name, c)
				}
			}
		})
	}
}

func checkContainerHardening(t *testing.T, what string, c corev1.Container) {
	t.Helper()
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("%s container %s has no %s request", what, c.Name, r)
		}
		if _, ok := c.Resources.Limits[r]; !ok {
			t.Errorf("%s container %s has no %s limit", what, c.Name, r)
		}
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("%s container %s: want a read-only root filesystem, no privilege escalation, all capabilities dropped", what, c.Name)
	}
}

func checkDeployment(t *testing.T, m *manifests, d *appsv1.Deployment, flags map[string]map[string]bool) {
	t.Helper()
	pod := d.Spec.Template
	labels := pod.Labels
	if !selects(selectorOf(d.Spec.Selector), labels) {
		t.Errorf("deployment %s: selector %v does not select its pods %v", d.Name, selectorOf(d.Spec.Selector), labels)
	}
	ps := pod.Spec
	if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
		t.Errorf("deployment %s mounts a service account token it does not need", d.Name)
	}
	found := false
	for _, a := range m.accounts {
		if a.Name == ps.ServiceAccountName {
			found = true
			if a.AutomountServiceAccountToken == nil || *a.AutomountServiceAccountToken {
				t.Errorf("service account %s automounts its token", a.Name)
			}
		}
	}
	if !found {
		t.Errorf("deployment %s: service account %q is not in the set", d.Name, ps.ServiceAccountName)
	}
	if ps.SecurityContext == nil || ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot {
		t.Errorf("deployment %s may run as root", d.Name)
	}
	if len(ps.TopologySpreadConstraints) == 0 {
		t.Errorf("deployment %s has no topology spread", d.Name)
	}
	if len(ps.Containers) != 1 {
		t.Fatalf("deployment %s has %d containers, want 1", d.Name, len(ps.Containers))
	}
	c := ps.Containers[0]
	checkContainerHardening(t, "deployment "+d.Name, c)
	// Probes and Prometheus use the admin listener: a service with client
	// ports has a separate one (metrics and profiles are not for clients).
	adminPort := "http"
	for _, p := range c.Ports {
		if p.Name == "grpc" {
			adminPort = "admin"
		}
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" || p.HTTPGet.Port.String() != adminPort {
		t.Errorf("deployment %s: readiness must be GET /readyz on the %s port", d.Name, adminPort)
	}
	if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.String() != adminPort {
		t.Errorf("deployment %s: liveness must be GET /healthz on the %s port", d.Name, adminPort)
	}
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Errorf("deployment %s has no preStop sleep", d.Name)
	} else if grace := ps.TerminationGracePeriodSeconds; grace == nil || *grace < c.Lifecycle.PreStop.Sleep.Seconds+drainSeconds+5 {
		t.Errorf("deployment %s: terminationGracePeriodSeconds must cover preStop (%ds) + drain (%ds) + 5s", d.Name, c.Lifecycle.PreStop.Sleep.Seconds, drainSeconds)
	}

	// Configuration: every FALCON_* key is a flag of this binary, and the
	// listen addresses agree with the declared ports.
	accepted, ok := flags[c.Name]
	if !ok {
		t.Fatalf("deployment %s runs %q, not a Falcon service", d.Name, c.Name)
	}
	config := map[string]string{}
	for _, src := range c.EnvFrom {
		switch {
		case src.ConfigMapRef != nil:
			cm := findConfigMap(m, src.ConfigMapRef.Name)
			if cm == nil {
				t.Errorf("deployment %s: ConfigMap %s is not in the set", d.Name, src.ConfigMapRef.Name)
				continue
			}
			for k, v := range cm.Data {
				config[k] = v
			}
		case src.SecretRef != nil:
			for _, s := range m.secrets {
				if s.Name == src.SecretRef.Name {
					for k := range s.StringData {
						config[k] = ""
					}
					for k := range s.Data {
						config[k] = ""
					}
				}
			}
		}
	}
	for _, e := range c.Env {
		if !strings.HasPrefix(e.Name, "FALCON_") {
			continue
		}
		config[e.Name] = e.Value
		if secretSettings[e.Name] && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			t.Errorf("deployment %s: %s must come from a Secret (secretKeyRef), not a literal", d.Name, e.Name)
		}
	}
	for _, cm := range c.EnvFrom {
		if cm.ConfigMapRef == nil {
			continue
		}
		if cmap := findConfigMap(m, cm.ConfigMapRef.Name); cmap != nil {
			for k := range cmap.Data {
				if secretSettings[k] {
					t.Errorf("deployment %s: %s is in ConfigMap %s: it must come from a Secret", d.Name, k, cmap.Name)
				}
			}
		}
	}
	for _, k := range requiredSecrets[c.Name] {
		if _, ok := config[k]; !ok {
			t.Errorf("deployment %s does not set %s (from a Secret)", d.Name, k)
		}
	}
	for k := range config {
		if !accepted[k] {
			t.Errorf("deployment %s sets %s, but %s has no such flag", d.Name, k, c.Name)
		}
	}
	checkIdentity(t, d, config)
	checkTLS(t, d, config, adminPort)
	if _, serves := config["FALCON_GRPC_ADDR"]; serves && config["FALCON_RATE_LIMIT"] != "true" {
		t.Errorf("deployment %s serves clients without rate limits (FALCON_RATE_LIMIT)", d.Name)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	listeners := map[string]string{"http": "FALCON_HTTP_ADDR", "grpc": "FALCON_GRPC_ADDR"}
	if adminPort == "admin" {
		listeners["admin"] = "FALCON_METRICS_ADDR"
	}
	for name, key := range listeners {
		port, declared := ports[name]
		addr, set := config[key]
		if !declared && !set {
			continue
		}
		_, p, err := net.SplitHostPort(addr)
		n, _ := strconv.Atoi(p)
		if !declared || !set || err != nil || int32(n) != port {
			t.Errorf("deployment %s: %s=%q does not match container port %s=%d", d.Name, key, addr, name, port)
		}
	}

	// Its companions: PDB, autoscaler or fixed replicas, Service,
	// NetworkPolicy.
	has := func(what string, ok bool) {
		if !ok {
			t.Errorf("deployment %s has no %s", d.Name, what)
		}
	}
	pdb := false
	for _, p := range m.pdbs {
		pdb = pdb || selects(selectorOf(p.Spec.Selector), labels)
	}
	has("PodDisruptionBudget", pdb)
	checkScaling(t, m, d)
	checkGoMemLimit(t, m, d)
	checkGoGC(t, m, d)
	netpol := false
	for _, n := range m.policies {
		if !selects(n.Spec.PodSelector.MatchLabels, labels) {
			continue
		}
		netpol = netpol || len(n.Spec.PolicyTypes) == 2
		for _, rule := range n.Spec.Ingress {
			for _, p := range rule.Ports {
				if p.Port != nil && p.Port.String() == adminPort && !onlyFromNamespaces(rule) {
					t.Errorf("network policy %s: the %s port (metrics, profiles) must be open only to chosen namespaces", n.Name, adminPort)
				}
			}
		}
	}
	svc := false
	for _, s := range m.services {
		if !selects(s.Spec.Selector, labels) {
			continue
		}
		svc = true
		for _, p := range s.Spec.Ports {
			if p.Name != "grpc" && p.Name != "http" && p.Name != "admin" {
				t.Errorf("service %s: port %q should be named grpc, http or admin", s.Name, p.Name)
			}
			if _, ok := ports[p.TargetPort.String()]; !ok {
				t.Errorf("service %s: target port %s is not a port of %s", s.Name, p.TargetPort.String(), d.Name)
			}
		}
	}
	has("Service", svc)
}

// secretSettings are the settings that are secrets: never in a ConfigMap.
var secretSettings = map[string]bool{
	"FALCON_HMAC_SECRET":         true,
	"FALCON_REPLICA_SECRET":      true,
	"FALCON_KAFKA_SASL_PASSWORD": true,
}

// requiredSecrets are the secrets each service cannot run safely without.
var requiredSecrets = map[string][]string{
	"write-api":         {"FALCON_REPLICA_SECRET"},
	"sparrow-forwarder": {"FALCON_HMAC_SECRET"},
}

// checkIdentity: an API verifies JWTs with keys from a mounted Secret or an
// https JWKS URL, with a required issuer and audience; trusting X-Account-Id
// is only ever an explicit, insecure choice.
func checkIdentity(t *testing.T, d *appsv1.Deployment, config map[string]string) {
	t.Helper()
	switch config["FALCON_AUTH"] {
	case "":
		if _, ok := config["FALCON_GRPC_ADDR"]; ok {
			t.Errorf("deployment %s serves clients but does not set FALCON_AUTH", d.Name)
		}
	case "dev":
		if config["FALCON_INSECURE_DEV_AUTH"] != "true" {
			t.Errorf("deployment %s: FALCON_AUTH=dev without FALCON_INSECURE_DEV_AUTH=true will not start", d.Name)
		}
	case "jwt":
		if config["FALCON_JWT_ISSUER"] == "" || config["FALCON_JWT_AUDIENCE"] == "" {
			t.Errorf("deployment %s: --auth=jwt needs FALCON_JWT_ISSUER and FALCON_JWT_AUDIENCE", d.Name)
		}
		if url, ok := config["FALCON_JWT_JWKS_URL"]; ok {
			if !strings.HasPrefix(url, "https://") {
				t.Errorf("deployment %s: FALCON_JWT_JWKS_URL=%q is not https", d.Name, url)
			}
			return
		}
		keyFile := config["FALCON_JWT_PUBLIC_KEY_FILE"] + config["FALCON_JWT_JWKS_FILE"]
		if !onMountedSecret(d, keyFile) {
			t.Errorf("deployment %s: --auth=jwt, but its key file %q is not on a mounted Secret", d.Name, keyFile)
		}
	default:
		t.Errorf("deployment %s: FALCON_AUTH=%q", d.Name, config["FALCON_AUTH"])
	}
}

// checkTLS: every file a TLS or Kafka security setting names is on a
// mounted Secret; a service serving TLS is probed over HTTPS; SASL has its
// password from a Secret.
func checkTLS(t *testing.T, d *appsv1.Deployment, config map[string]string, adminPort string) {
	t.Helper()
	c := d.Spec.Template.Spec.Containers[0]
	for _, key := range []string{"FALCON_TLS_CERT_FILE", "FALCON_TLS_KEY_FILE", "FALCON_TLS_CLIENT_CA_FILE",
		"FALCON_REPLICA_TLS_CA_FILE", "FALCON_REPLICA_TLS_CERT_FILE", "FALCON_REPLICA_TLS_KEY_FILE", "FALCON_KAFKA_TLS_CA_FILE"} {
		if file, ok := config[key]; ok && !onMountedSecret(d, file) {
			t.Errorf("deployment %s: %s=%q is not on a mounted Secret", d.Name, key, file)
		}
	}
	if _, ok := config["FALCON_TLS_CERT_FILE"]; ok {
		for what, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
			if p == nil || p.HTTPGet == nil || p.HTTPGet.Scheme != corev1.URISchemeHTTPS {
				t.Errorf("deployment %s serves TLS on its %s port, but its %s probe is not HTTPS", d.Name, adminPort, what)
			}
		}
		if d.Spec.Template.Annotations["prometheus.io/scheme"] != "https" {
			t.Errorf("deployment %s serves TLS, but Prometheus is told to scrape it over http", d.Name)
		}
	}
	if config["FALCON_KAFKA_SASL_MECHANISM"] != "" {
		if _, ok := config["FALCON_KAFKA_SASL_PASSWORD"]; !ok {
			t.Errorf("deployment %s authenticates to Kafka with SASL, but no FALCON_KAFKA_SASL_PASSWORD from a Secret", d.Name)
		}
	}
}

// onMountedSecret says whether file is under a mount of a Secret volume.
func onMountedSecret(d *appsv1.Deployment, file string) bool {
	c := d.Spec.Template.Spec.Containers[0]
	for _, vm := range c.VolumeMounts {
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name == vm.Name && v.Secret != nil && file != "" && strings.HasPrefix(file, strings.TrimSuffix(vm.MountPath, "/")+"/") {
				return true
			}
		}
	}
	return false
}

// onlyFromNamespaces reports whether an ingress rule admits only pods of
// selected namespaces (not everyone, not the whole cluster).
func onlyFromNamespaces(rule networkingv1.NetworkPolicyIngressRule) bool {
	if len(rule.From) == 0 {
		return false
	}
	for _, peer := range rule.From {
		if peer.IPBlock != nil || peer.NamespaceSelector == nil || len(peer.NamespaceSelector.MatchLabels) == 0 {
			return false
		}
	}
	return true
}

func findConfigMap(m *manifests, name string) *corev1.ConfigMap {
	for _, c := range m.configMaps {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// TestSetupComesFromTheFalconBinary: wherever the topics and the read-model
// tables are created, it is by `falcon topics-init` and `falcon store-init`
// from the Falcon image, against the Kafka topic and the store the services
// use, with flags those commands have. Topics and tables are then the ones
// the services themselves define; a hand-written schema script (one once
// lacked the meta table the updater loads at start) cannot come back
// unnoticed.
func TestSetupComesFromTheFalconBinary(t *testing.T) {
	flagsOf := func(register func(*flag.FlagSet)) map[string]bool {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		register(fs)
		fs.String("log-level", "", "")
		known := map[string]bool{}
		fs.VisitAll(func(f *flag.Flag) { known[flagenv.EnvName(f.Name)] = true })
		return known
	}
	jobs := []struct {
		name, command string
		flags         map[string]bool
		// same lists settings that must equal the named services' own.
		same map[string][]string
	}{
		{"falcon-kafka-topics", "topics-init", flagsOf((&setup.TopicsConfig{}).RegisterFlags), map[string][]string{
			"FALCON_KAFKA_BROKERS": {"write-api", "read-model-updater", "sparrow-forwarder"},
			"FALCON_TOPIC":         {"write-api", "read-model-updater", "sparrow-forwarder"},
		}},
		{"falcon-hbase-tables", "store-init", flagsOf((&setup.TablesConfig{}).RegisterFlags), map[string][]string{
			"FALCON_STORE": {"read-api", "read-model-updater"},
		}},
	}
	for _, m := range renderings(t) {
		t.Run(m.source, func(t *testing.T) {
			for _, want := range jobs {
				var job *batchv1.Job
				for _, j := range m.jobs {
					if j.Name == want.name {
						job = j
					}
				}
				if job == nil {
					if len(m.deployments) > 1 {
						t.Fatalf("the whole system renders no %s Job", want.name)
					}
					continue // a single service's base or chart
				}
				cs := job.Spec.Template.Spec.Containers
				if len(cs) != 1 {
					t.Fatalf("%s has %d containers, want 1", want.name, len(cs))
				}
				c := cs[0]
				if repo, _, _ := strings.Cut(c.Image, ":"); repo != "ghcr.io/falcon-chat/falcon" || len(c.Command) != 0 || len(c.Args) == 0 || c.Args[0] != want.command {
					t.Fatalf("%s runs %s %v %v, want the Falcon image's `falcon %s`", want.name, c.Image, c.Command, c.Args, want.command)
				}
				env := map[string]string{}
				for _, e := range c.Env {
					if !want.flags[e.Name] {
						t.Errorf("%s sets %s, which falcon %s does not read", want.name, e.Name, want.command)
					}
					env[e.Name] = e.Value
				}
				for key, services := range want.same {
					if env[key] == "" {
						t.Errorf("%s does not set %s", want.name, key)
					}
					for _, svc := range services {
						if got := settingOf(m, svc, key); got != env[key] {
							t.Errorf("%s has %s=%q, %s has %q", svc, key, got, want.name, env[key])
						}
					}
				}
			}
		})
	}
}

// settingOf is a FALCON_* setting of a service's ConfigMap, if any.
func settingOf(m *manifests, service, key string) string {
	for _, c := range m.configMaps {
		if strings.HasSuffix(c.Name, service) || strings.Contains(c.Name, service+"-") {
			if v, ok := c.Data[key]; ok {
				return v
			}
		}
	}
	return ""
}

// TestProductionHasNoReflection: the production configurations turn gRPC
// reflection off in every service that serves gRPC.
func TestProductionHasNoReflection(t *testing.T) {
	prod := 0
	for _, m := range renderings(t) {
		if !strings.Contains(m.source, "prod") {
			continue
		}
		prod++
		for _, service := range []string{"write-api", "read-api"} {
			if v := settingOf(m, service, "FALCON_GRPC_REFLECTION"); v != "false" {
				t.Errorf("%s: %s has FALCON_GRPC_REFLECTION=%q, want false", m.source, service, v)
			}
		}
	}
	if prod == 0 {
		t.Fatal("no production rendering")
	}
}
