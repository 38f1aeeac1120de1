package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// parseRates reads -sweep: ascending arrival rates, comma-separated.
func parseRates(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 || len(out) > 0 && r <= out[len(out)-1] {
			return nil, fmt.Errorf("-sweep %q: want ascending positive rates, comma-separated", s)
		}
		out = append(out, r)
	}
	return out, nil
}

// SweepPoint is one rate of a sweep.
type SweepPoint struct {
	Rate   float64 `json:"rate"`
	Result Window  `json:"result"`
	// NotSent are requests due while every client was busy until the end.
	NotSent int64 `json:"not_sent"`
}

// sweep runs op in an open loop at each rate in turn (each with its
// warm-up) and reports latency against throughput: where the latency
// leaves its floor is the most the server takes.
func sweep(ctx context.Context, c config, op func(context.Context, int, int) error, kindOf func(int) string, rates []float64) error {
	var points []SweepPoint
	fmt.Printf("sweep of %s over %s: %d rates, %s each after %s warm-up, at most %d in flight\n", c.scenario, c.transport, len(rates), c.duration, c.warmup, c.concurrency)
	fmt.Printf("%10s %10s %9s %9s %9s %9s %8s %8s\n", "rate/s", "answers/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "errors", "not sent")
	for _, r := range rates {
		cr := c
		cr.arrivalRate = r
		rep, err := runOnce(ctx, cr, op, kindOf)
		if err != nil {
			return err
		}
		if c.reportDir != "" {
			if err := rep.writeReport(filepath.Join(c.reportDir, fmt.Sprintf("rate-%.0f", r))); err != nil {
				return err
			}
		}
		t := rep.Total
		points = append(points, SweepPoint{Rate: r, Result: t, NotSent: rep.NotSent})
		fmt.Printf("%10.0f %10.0f %9.2f %9.2f %9.2f %9.2f %8d %8d\n", r, t.Throughput, t.P50, t.P99, t.P999, t.Max, t.Errors, rep.NotSent)
	}
	if knee := kneeOf(points); knee > 0 {
		fmt.Printf("  knee: the latency leaves its floor (or answers fall behind) at %.0f/s\n", points[knee].Rate)
	}
	if c.reportDir == "" {
		return nil
	}
	b, err := json.MarshalIndent(points, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.reportDir, "sweep.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return drawSweep(c, points)
}

func drawSweep(c config, points []SweepPoint) error {
	if err := os.WriteFile(filepath.Join(c.reportDir, "sweep.svg"), []byte(sweepChart(c, points).svg()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.reportDir, "sweep-throughput.svg"), []byte(sweepThroughputChart(c, points).svg()), 0o644)
}

// redrawSweep draws the charts of the sweep saved in c.reportDir again
// (after a change to the charts, without running it again).
func redrawSweep(c config) error {
	b, err := os.ReadFile(filepath.Join(c.reportDir, "sweep.json"))
	if err != nil {
		return err
	}
	var points []SweepPoint
	if err := json.Unmarshal(b, &points); err != nil {
		return fmt.Errorf("%s/sweep.json: %w", c.reportDir, err)
	}
	c.scenario = filepath.Base(c.reportDir) // the run's name, as reference.sh names it
	return drawSweep(c, points)
}

// sweepChart is latency against the offered rate, on a log scale: past the
// knee it grows by orders of magnitude.
func sweepChart(c config, points []SweepPoint) chart {
	var p50, p99, p999 [][2]float64
	var ticks []float64
	for _, p := range points {
		p50 = append(p50, [2]float64{p.Rate, p.Result.P50})
		p99 = append(p99, [2]float64{p.Rate, p.Result.P99})
		p999 = append(p999, [2]float64{p.Rate, p.Result.P999})
		ticks = append(ticks, p.Rate)
	}
	return chart{title: fmt.Sprintf("Latency against offered load: %s over %s", c.scenario, c.transport),
		xLabel: "requests per second sent", yLabel: "ms (log scale)", logY: true, xTicks: ticks,
		lines: []series{{"p50", "#2ca02c", p50}, {"p99", "#ff7f0e", p99}, {"p99.9", "#d62728", p999}}}
}

// sweepThroughputChart is answers against the offered rate: they part
// where the server cannot keep up.
func sweepThroughputChart(c config, points []SweepPoint) chart {
	var offered, answered [][2]float64
	var ticks []float64
	for _, p := range points {
		offered = append(offered, [2]float64{p.Rate, p.Rate})
		answered = append(answered, [2]float64{p.Rate, p.Result.Throughput})
		ticks = append(ticks, p.Rate)
	}
	return chart{title: fmt.Sprintf("Throughput against offered load: %s over %s", c.scenario, c.transport),
		xLabel: "requests per second sent", yLabel: "per second", xTicks: ticks,
		lines: []series{{"sent", "#999999", offered}, {"answered", "#1f77b4", answered}}}
}

// kneeOf is the first point where answers fall 5% behind the rate or the
// p99 passes three times the first point's (0: none).
func kneeOf(points []SweepPoint) int {
	for i, p := range points {
		if i == 0 {
			continue
		}
		if p.Result.Throughput < 0.95*p.Rate || p.Result.P99 > 3*max(points[0].Result.P99, 1) {
			return i
		}
	}
	return 0
}

// runOnce is one open-loop run with the server sampled when asked.
func runOnce(ctx context.Context, c config, op func(context.Context, int, int) error, kindOf func(int) string) (Report, error) {
	var s *serverSampler
	if c.serverMetrics != "" {
		s = sampleServer(ctx, c.serverMetrics, c.sampleEvery)
	}
	rec := openLoop(ctx, c, op, kindOf)
	rep := rec.report(c)
	rep.Percentiles = rec.percentiles()
	if s != nil {
		var errs int
		rep.Server, errs = s.finish()
		if len(rep.Server) == 0 {
			return rep, errors.New("-server-metrics: no sample of the server's process metrics (" + strconv.Itoa(errs) + " scrapes failed)")
		}
	}
	return rep, nil
}
