package main

import (
	"context"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// ServerSample is the server's CPU (cores busy) and resident memory over
// one interval of the run, from its Prometheus process metrics.
type ServerSample struct {
	Second   float64 `json:"second"`
	CPUCores float64 `json:"cpu_cores"`
	RSSMB    float64 `json:"rss_mb"`
}

// serverSampler scrapes process_cpu_seconds_total and
// process_resident_memory_bytes every interval until stopped.
type serverSampler struct {
	mu      sync.Mutex
	samples []ServerSample
	errs    int
	stop    context.CancelFunc
	done    chan struct{}
}

func sampleServer(ctx context.Context, url string, every time.Duration) *serverSampler {
	ctx, cancel := context.WithCancel(ctx)
	s := &serverSampler{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		start := time.Now()
		var lastCPU float64
		var last time.Time
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			m, err := scrape(url, "process_cpu_seconds_total", "process_resident_memory_bytes")
			now := time.Now()
			s.mu.Lock()
			if err != nil {
				s.errs++
			} else if !last.IsZero() {
				s.samples = append(s.samples, ServerSample{Second: now.Sub(start).Seconds(),
					CPUCores: (m["process_cpu_seconds_total"] - lastCPU) / now.Sub(last).Seconds(),
					RSSMB:    m["process_resident_memory_bytes"] / 1e6})
			}
			s.mu.Unlock()
			if err == nil {
				lastCPU, last = m["process_cpu_seconds_total"], now
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// finish stops the sampler and returns its samples.
func (s *serverSampler) finish() ([]ServerSample, int) {
	s.stop()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples, s.errs
}

// Percentile is a point of the latency distribution.
type Percentile struct {
	Quantile float64 `json:"quantile"`
	Ms       float64 `json:"ms"`
}

var distribution = []float64{0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100}

func (r *recorder) percentiles() []Percentile {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Percentile
	for _, q := range distribution {
		out = append(out, Percentile{Quantile: q, Ms: float64(r.all.ValueAtQuantile(q)) / 1000})
	}
	return out
}

// charts are the pictures of a run: throughput and latency over time, the
// latency distribution, the server's CPU and memory.
func (rep Report) charts() map[string]chart {
	var ok, errs, p50, p99, p999 [][2]float64
	for i, w := range rep.PerSecond {
		x := float64(i + 1)
		ok = append(ok, [2]float64{x, float64(w.OK)})
		errs = append(errs, [2]float64{x, float64(w.Errors)})
		p50 = append(p50, [2]float64{x, w.P50})
		p99 = append(p99, [2]float64{x, w.P99})
		p999 = append(p999, [2]float64{x, w.P999})
	}
	what := fmt.Sprintf("%s over %s at %.0f/s", rep.Scenario, rep.Transport, rep.ArrivalRate)
	out := map[string]chart{
		"throughput": {title: "Answers per second: " + what, xLabel: "second of the run", yLabel: "per second",
			lines: []series{{"ok", "#1f77b4", ok}, {"errors", "#d62728", errs}}},
		"latency": {title: "Latency over time (from when due): " + what, xLabel: "second of the run", yLabel: "ms",
			lines: []series{{"p50", "#2ca02c", p50}, {"p99", "#ff7f0e", p99}, {"p99.9", "#d62728", p999}}},
	}
	var dist [][2]float64
	for _, p := range rep.Percentiles {
		if p.Quantile < 100 { // 1/(1-q) is infinite at the maximum
			dist = append(dist, [2]float64{1 / (1 - p.Quantile/100), p.Ms})
		}
	}
	out["distribution"] = chart{title: "Latency distribution: " + what, xLabel: "percentile", yLabel: "ms", logX: true,
		xTicks: []float64{1, 2, 10, 100, 1000, 10000}, xTickLabel: func(v float64) string { return fmt.Sprintf("%g%%", 100-100/v) },
		lines: []series{{"latency", "#1f77b4", dist}}}
	if len(rep.Server) > 0 {
		var cpu, rss [][2]float64
		for _, s := range rep.Server {
			cpu = append(cpu, [2]float64{s.Second, s.CPUCores})
			rss = append(rss, [2]float64{s.Second, s.RSSMB})
		}
		out["server-cpu"] = chart{title: "Server CPU: " + what, xLabel: "second (from the warm-up)", yLabel: "cores",
			lines: []series{{"cores busy", "#9467bd", cpu}}}
		out["server-rss"] = chart{title: "Server memory: " + what, xLabel: "second (from the warm-up)", yLabel: "MB",
			lines: []series{{"resident", "#8c564b", rss}}}
	}
	return out
}

// writeReport writes the run to dir: report.json, one SVG per chart, and
// report.html with the charts, the percentiles and the errors by code.
func (rep Report) writeReport(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := rep.write(filepath.Join(dir, "report.json")); err != nil {
		return err
	}
	charts := rep.charts()
	names := make([]string, 0, len(charts))
	for n := range charts {
		names = append(names, n)
	}
	sort.Strings(names)
	var page strings.Builder
	fmt.Fprintf(&page, "<!doctype html><meta charset=utf-8><title>loadtest %s</title><body style=\"font-family:sans-serif\">", html.EscapeString(rep.Scenario))
	fmt.Fprintf(&page, "<h1>%s over %s, %.0f requests/s for %.0f s</h1>", html.EscapeString(rep.Scenario), html.EscapeString(rep.Transport), rep.ArrivalRate, rep.Seconds)
	t := rep.Total
	fmt.Fprintf(&page, "<p>%d answered (%.0f/s), %d errors, %d not sent; p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms</p>",
		t.OK, t.Throughput, t.Errors, rep.NotSent, t.P50, t.P90, t.P99, t.P999, t.Max)
	page.WriteString("<table border=1 cellpadding=4><tr><th>percentile</th><th>ms</th></tr>")
	for _, p := range rep.Percentiles {
		fmt.Fprintf(&page, "<tr><td>%g</td><td>%.2f</td></tr>", p.Quantile, p.Ms)
	}
	page.WriteString("</table><h2>Errors by code</h2><table border=1 cellpadding=4><tr><th>code</th><th>count</th></tr>")
	for code, n := range rep.Errors {
		fmt.Fprintf(&page, "<tr><td>%s</td><td>%d</td></tr>", html.EscapeString(code), n)
	}
	page.WriteString("</table>")
	for _, n := range names {
		svg := charts[n].svg()
		if err := os.WriteFile(filepath.Join(dir, n+".svg"), []byte(svg), 0o644); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		fmt.Fprintf(&page, "<h2>%s</h2>%s", html.EscapeString(n), svg)
	}
	page.WriteString("</body>")
	if err := os.WriteFile(filepath.Join(dir, "report.html"), []byte(page.String()), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	fmt.Printf("  report: %s\n", filepath.Join(dir, "report.html"))
	return nil
}
