package deploycheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/falcon-chat/falcon/libs/testenv"
)

// The alerts and dashboards are checked without a cluster: their PromQL
// parses, each alert has a runbook section, the Helm and kustomize copies
// are the same, and every metric they name is exported by the binaries
// (scraped from falcon dev, and from read-api on the HBase client).

const (
	helmDashboards      = "../helm/falcon/files/dashboards"
	kustomizeDashboards = "../k8s/components/monitoring/dashboards"
)

// dashboard is the part of a Grafana dashboard the checks read.
type dashboard struct {
	UID    string `json:"uid"`
	Title  string `json:"title"`
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func dashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(helmDashboards, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in %s: %v", helmDashboards, err)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		kb, err := os.ReadFile(filepath.Join(kustomizeDashboards, filepath.Base(f)))
		if err != nil || !bytes.Equal(b, kb) {
			t.Errorf("%s differs from its kustomize copy in %s (make dashboards writes both): %v", f, kustomizeDashboards, err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
			t.Errorf("%s: a dashboard needs a uid, a title and panels", f)
		}
		out[filepath.Base(f)] = d
	}
	return out
}

// alertRules are the rules of the PrometheusRules the renderings hold, by
// rendering; every production rendering has them.
func alertRules(t *testing.T) map[string]monitoringv1.PrometheusRuleSpec {
	t.Helper()
	out := map[string]monitoringv1.PrometheusRuleSpec{}
	for _, m := range renderings(t) {
		if strings.Contains(m.source, "prod") && len(m.rules) != 1 {
			t.Errorf("%s: %d PrometheusRules, want 1", m.source, len(m.rules))
		}
		for _, r := range m.rules {
			out[m.source] = r.Spec
		}
	}
	return out
}

// metricNames are the metric names expr selects.
func metricNames(t *testing.T, where, expr string) []string {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: the PromQL does not parse: %v\n%s", where, err, expr)
		return nil
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			name := vs.Name
			for _, m := range vs.LabelMatchers {
				if m.Name == model.MetricNameLabel {
					name = m.Value
				}
			}
			if name != "" {
				names = append(names, name)
			}
		}
		return nil
	})
	return names
}

var heading = regexp.MustCompile(`(?m)^#{2,4} (.+)$`)

// runbookAnchors are the anchors GitHub makes of docs/runbook.md's headings.
func runbookAnchors(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../docs/runbook.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(string(b), -1) {
		slug := strings.ToLower(strings.TrimSpace(m[1]))
		slug = regexp.MustCompile(`[^a-z0-9 _-]`).ReplaceAllString(slug, "")
		out[strings.ReplaceAll(slug, " ", "-")] = true
	}
	return out
}

func TestAlertsHaveRunbooksAndParse(t *testing.T) {
	anchors := runbookAnchors(t)
	specs := alertRules(t)
	var first *monitoringv1.PrometheusRuleSpec
	for source, spec := range specs {
		if first == nil {
			first = &spec
		} else if !reflect.DeepEqual(*first, spec) {
			t.Errorf("%s: the alerts differ from another rendering's (helm/falcon/files/prometheus-rules.yaml and k8s/components/monitoring/prometheusrule.yaml must hold the same groups)", source)
		}
		alerts := 0
		for _, g := range spec.Groups {
			for _, r := range g.Rules {
				where := fmt.Sprintf("%s: alert %s", source, r.Alert)
				metricNames(t, where, r.Expr.String())
				if r.Alert == "" {
					continue
				}
				alerts++
				if s := r.Labels["severity"]; s != "warning" && s != "critical" {
					t.Errorf("%s: severity %q, want warning or critical", where, s)
				}
				for _, a := range []string{"summary", "description", "runbook_url"} {
					if r.Annotations[a] == "" {
						t.Errorf("%s: no %s annotation", where, a)
					}
				}
				_, anchor, _ := strings.Cut(r.Annotations["runbook_url"], "docs/runbook.md#")
				if !anchors[anchor] {
					t.Errorf("%s: runbook_url %q names no section of docs/runbook.md", where, r.Annotations["runbook_url"])
				}
			}
		}
		if alerts == 0 {
			t.Errorf("%s: no alerts", source)
		}
	}
	if len(specs) < 2 {
		t.Errorf("alerts in %d renderings, want both the Helm and the kustomize production renderings", len(specs))
	}
}

// TestServiceMonitorsScrapeTheAdminPort: every Deployment of a rendering
// with ServiceMonitors has one, on a port its Service has, selecting it.
func TestServiceMonitorsScrapeTheAdminPort(t *testing.T) {
	for _, m := range renderings(t) {
		if len(m.monitors) == 0 {
			continue
		}
		if len(m.monitors) != len(m.deployments) {
			t.Errorf("%s: %d ServiceMonitors for %d Deployments", m.source, len(m.monitors), len(m.deployments))
		}
		for _, sm := range m.monitors {
			if sm.Spec.JobLabel != "app.kubernetes.io/name" {
				t.Errorf("%s: ServiceMonitor %s: jobLabel %q; the alerts select on the service's name", m.source, sm.Name, sm.Spec.JobLabel)
			}
			var svc *struct{ ports []string }
			for _, s := range m.services {
				if selects(sm.Spec.Selector.MatchLabels, s.Labels) {
					svc = &struct{ ports []string }{}
					for _, p := range s.Spec.Ports {
						svc.ports = append(svc.ports, p.Name)
					}
				}
			}
			if svc == nil {
				t.Errorf("%s: ServiceMonitor %s selects no Service", m.source, sm.Name)
				continue
			}
			for _, e := range sm.Spec.Endpoints {
				want := "admin"
				if !slices.Contains(svc.ports, "admin") {
					want = "http"
				}
				if e.Port != want || e.Path != "/metrics" {
					t.Errorf("%s: ServiceMonitor %s scrapes port %q path %q, want %q /metrics", m.source, sm.Name, e.Port, e.Path, want)
				}
			}
		}
	}
}

// monitoredMetrics are the metric names the alerts and dashboards use.
func monitoredMetrics(t *testing.T) map[string][]string {
	t.Helper()
	used := map[string][]string{} // metric -> where
	for source, spec := range alertRules(t) {
		for _, g := range spec.Groups {
			for _, r := range g.Rules {
				for _, n := range metricNames(t, source+" "+r.Alert, r.Expr.String()) {
					used[n] = append(used[n], "alert "+r.Alert)
				}
			}
		}
	}
	for file, d := range dashboards(t) {
		for _, p := range d.Panels {
			for _, target := range p.Targets {
				for _, n := range metricNames(t, file+": "+p.Title, target.Expr) {
					used[n] = append(used[n], file+": "+p.Title)
				}
			}
		}
	}
	return used
}

func TestDashboardsAndAlertsUseExportedMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("runs falcon dev, falcon store and read-api")
	}
	used := monitoredMetrics(t)
	exported := scrapeBinaries(t, func(have map[string]bool) bool {
		for name := range used {
			if !have[name] {
				return false
			}
		}
		return true
	})
	var missing []string
	for name, where := range used {
		if !exported[name] {
			missing = append(missing, fmt.Sprintf("%s (%s)", name, where[0]))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("named in alerts or dashboards but exported by no binary:\n  %s", strings.Join(missing, "\n  "))
	}
}

// exposedNames are the names a query can select from a scrape: a
// histogram's _bucket, _sum and _count, a summary's quantiles, _sum and
// _count, every other family by its name.
func exposedNames(families map[string]*dto.MetricFamily) map[string]bool {
	out := map[string]bool{}
	for name, f := range families {
		if len(f.GetMetric()) == 0 {
			continue
		}
		out[name] = true
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			out[name+"_bucket"], out[name+"_sum"], out[name+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			out[name+"_sum"], out[name+"_count"] = true, true
		}
	}
	return out
}

// scrapeBinaries builds falcon and read-api, runs falcon dev (every
// component, with rate limits on), and read-api on falcon store's Thrift2
// server (the HBase client), sends them some traffic and scrapes them until
// done says the names are there, or a minute has passed.
func scrapeBinaries(t *testing.T, done func(map[string]bool) bool) map[string]bool {
	t.Helper()
	bin := t.TempDir()
	for _, p := range []string{"falcon", "read-api"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(bin, p), "./services/"+p)
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", p, err, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	data := t.TempDir()
	kafka, rest, grpcAddr, admin := testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t)
	start(ctx, t, filepath.Join(bin, "falcon"), "dev", "--data-dir", filepath.Join(data, "dev"), "--kafka-addr", kafka,
		"--http-addr", rest, "--grpc-addr", grpcAddr, "--metrics-addr", admin, "--log-level", "warn", "--rate-limit")
	thrift := testenv.FreeAddr(t)
	start(ctx, t, filepath.Join(bin, "falcon"), "store", "--data-dir", filepath.Join(data, "store"), "--addr", thrift, "--log-level", "warn")
	store := "hbase+thrift://" + thrift + "?namespace=falcon"
	waitFor(ctx, t, "falcon dev", "http://"+admin+"/readyz")
	run := exec.CommandContext(ctx, filepath.Join(bin, "falcon"), "store-init", "--store", store)
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("falcon store-init: %v\n%s", err, out)
	}
	readREST, readAdmin := testenv.FreeAddr(t), testenv.FreeAddr(t)
	start(ctx, t, filepath.Join(bin, "read-api"), "--store", store, "--kafka-brokers", kafka, "--auth", "dev",
		"--http-addr", readREST, "--grpc-addr", testenv.FreeAddr(t), "--metrics-addr", readAdmin, "--log-level", "warn")
	waitFor(ctx, t, "read-api", "http://"+readAdmin+"/readyz")

	// Traffic: a thread and a message (delivered to the legacy stand-in),
	// a query through the HBase client.
	var created struct {
		ThreadID string `json:"threadId"`
	}
	call(ctx, t, http.MethodPost, "http://"+rest+"/v1/threads", `{"title":"monitored","memberIds":["bob"]}`, &created)
	call(ctx, t, http.MethodPost, "http://"+rest+"/v1/threads/"+created.ThreadID+"/messages", `{"body":"hello"}`, nil)
	call(ctx, t, http.MethodGet, "http://"+readREST+"/v1/threads", "", nil)

	// Until a name appears or time runs out; a scrape cut off by the
	// deadline does not count, so the answer is the last whole one.
	last := map[string]bool{}
	for {
		have := map[string]bool{}
		for _, a := range []string{admin, readAdmin} {
			for name := range exposedNames(scrape(ctx, t, "http://"+a+"/metrics")) {
				have[name] = true
			}
		}
		if ctx.Err() != nil {
			return last
		}
		if last = have; done(have) {
			return have
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// start runs a process until the test ends.
func start(ctx context.Context, t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s %s:\n%s", filepath.Base(name), strings.Join(args, " "), out.String())
		}
	})
}

func waitFor(ctx context.Context, t *testing.T, what, url string) {
	t.Helper()
	for ctx.Err() == nil {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never became ready at %s", what, url)
}

func call(ctx context.Context, t *testing.T, method, url, body string, into any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	req.Header.Set("X-Account-Id", "alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
}

func scrape(ctx context.Context, t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s does not parse as the Prometheus text format: %v", url, err)
	}
	return families
}
