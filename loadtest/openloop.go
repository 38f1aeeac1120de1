package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"google.golang.org/grpc/status"
)

// openLoop runs op at a fixed arrival rate for the warm-up and then the
// measured duration. The i-th request is due at start + i/rate whether or
// not those before it have been answered, and its latency runs from when it
// was due, not from when a worker got to it: a stall of the server shows
// in every request it delays (no coordinated omission). At most
// c.concurrency requests are in flight; those due while all are busy wait,
// and their wait counts.
// kindOf, when not nil, names the kind of request worker w just made (the
// mix's list, page, post ...), for latencies by kind.
func openLoop(ctx context.Context, c config, op func(context.Context, int, int) error, kindOf func(w int) string) *recorder {
	interval := time.Duration(float64(time.Second) / c.arrivalRate)
	rec := newRecorder()
	jobs := make(chan time.Time, c.concurrency)
	var wg sync.WaitGroup
	for w := range c.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for due := range jobs {
				rec.sent(due, time.Since(due))
				err := op(ctx, w, n)
				kind := ""
				if kindOf != nil {
					kind = kindOf(w)
				}
				rec.record(due, time.Since(due), err, kind)
				n++
			}
		}()
	}
	start := time.Now()
	rec.begin(start.Add(c.warmup))
	end := start.Add(c.warmup + c.duration)
	atEnd := time.NewTimer(time.Until(end))
	defer atEnd.Stop()
schedule:
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if !due.Before(end) {
			break
		}
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		select {
		case jobs <- due:
		case <-atEnd.C:
			// Every client busy until the end: what is still due was never
			// sent, and is counted as such.
			rec.unsent(int64((end.Sub(due) + interval - 1) / interval))
			break schedule
		}
	}
	close(jobs)
	wg.Wait()
	rec.finish(end)
	return rec
}

// recorder keeps latencies in HDR histograms (microseconds, three
// significant digits), for the measured run and for each second of it, with
// the errors by gRPC code.
type recorder struct {
	mu   sync.Mutex
	from time.Time // the measured part starts; earlier requests are warm-up
	all  *hdrhistogram.Histogram
	// late is how long after it was due each request was sent: waiting for
	// a free client, or the generator itself falling behind.
	late    *hdrhistogram.Histogram
	kinds   map[string]*second
	seconds []*second
	errors  map[string]int64
	notSent int64
	elapsed time.Duration
}

type second struct {
	lat    *hdrhistogram.Histogram
	errors int64
}

// maxLatencyMicros is the largest latency the histograms hold: a minute.
const maxLatencyMicros = 60_000_000

func newHistogram() *hdrhistogram.Histogram { return hdrhistogram.New(1, maxLatencyMicros, 3) }

func newRecorder() *recorder {
	return &recorder{all: newHistogram(), late: newHistogram(), kinds: map[string]*second{}, errors: map[string]int64{}}
}

func (r *recorder) begin(from time.Time) {
	r.mu.Lock()
	r.from = from
	r.mu.Unlock()
}

// record counts a request of a kind ("" when not told) due at due that
// took d (from due) and ended with err; the second it is counted in is the
// one it was due in.
func (r *recorder) record(due time.Time, d time.Duration, err error, kind string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if due.Before(r.from) {
		return
	}
	i := int(due.Sub(r.from) / time.Second)
	for len(r.seconds) <= i {
		r.seconds = append(r.seconds, &second{lat: newHistogram()})
	}
	k := r.kinds[kind]
	if kind != "" && k == nil {
		k = &second{lat: newHistogram()}
		r.kinds[kind] = k
	}
	if err != nil {
		r.errors[status.Code(err).String()]++
		r.seconds[i].errors++
		if k != nil {
			k.errors++
		}
		return
	}
	us := min(max(d.Microseconds(), 1), maxLatencyMicros)
	_ = r.all.RecordValue(us)
	_ = r.seconds[i].lat.RecordValue(us)
	if k != nil {
		_ = k.lat.RecordValue(us)
	}
}

// sent records how late a request due at due was sent.
func (r *recorder) sent(due time.Time, late time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !due.Before(r.from) {
		_ = r.late.RecordValue(min(max(late.Microseconds(), 1), maxLatencyMicros))
	}
}

func (r *recorder) unsent(n int64) {
	r.mu.Lock()
	r.notSent += n
	r.mu.Unlock()
}

func (r *recorder) finish(end time.Time) {
	r.mu.Lock()
	r.elapsed = end.Sub(r.from)
	r.mu.Unlock()
}

// Report is the JSON result of a run: its settings, the whole measured run
// and each second of it.
type Report struct {
	Scenario    string            `json:"scenario"`
	Transport   string            `json:"transport"`
	ArrivalRate float64           `json:"arrival_rate"`
	Concurrency int               `json:"concurrency"`
	Seconds     float64           `json:"seconds"`
	Total       Window            `json:"total"`
	Errors      map[string]int64  `json:"errors_by_code"`
	NotSent     int64             `json:"not_sent"`
	PerSecond   []Window          `json:"per_second"`
	ByKind      map[string]Window `json:"by_kind,omitempty"`
	Percentiles []Percentile      `json:"percentiles"`
	// SentLate is how long after they were due requests were sent (p50,
	// p99, max in ms): part of the latency, the generator's or the
	// clients' limit rather than the server's when large.
	SentLate [3]float64     `json:"sent_late_ms"`
	Server   []ServerSample `json:"server,omitempty"`
}

// Window is what a span of the run did: answers per second and latency
// percentiles in milliseconds.
type Window struct {
	OK         int64   `json:"ok"`
	Errors     int64   `json:"errors"`
	Throughput float64 `json:"throughput"`
	P50        float64 `json:"p50_ms"`
	P90        float64 `json:"p90_ms"`
	P99        float64 `json:"p99_ms"`
	P999       float64 `json:"p999_ms"`
	Max        float64 `json:"max_ms"`
}

func window(h *hdrhistogram.Histogram, errors int64, seconds float64) Window {
	ms := func(q float64) float64 { return float64(h.ValueAtQuantile(q)) / 1000 }
	w := Window{OK: h.TotalCount(), Errors: errors, P50: ms(50), P90: ms(90), P99: ms(99), P999: ms(99.9), Max: float64(h.Max()) / 1000}
	if seconds > 0 {
		w.Throughput = float64(w.OK) / seconds
	}
	return w
}

func (r *recorder) report(c config) Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs int64
	for _, n := range r.errors {
		errs += n
	}
	rep := Report{Scenario: c.scenario, Transport: c.transport, ArrivalRate: c.arrivalRate, Concurrency: c.concurrency,
		Seconds: r.elapsed.Seconds(), Total: window(r.all, errs, r.elapsed.Seconds()), Errors: r.errors, NotSent: r.notSent}
	for _, s := range r.seconds {
		rep.PerSecond = append(rep.PerSecond, window(s.lat, s.errors, 1))
	}
	rep.SentLate = [3]float64{float64(r.late.ValueAtQuantile(50)) / 1000, float64(r.late.ValueAtQuantile(99)) / 1000, float64(r.late.Max()) / 1000}
	if len(r.kinds) > 0 {
		rep.ByKind = map[string]Window{}
		for k, s := range r.kinds {
			rep.ByKind[k] = window(s.lat, s.errors, r.elapsed.Seconds())
		}
	}
	return rep
}

func (rep Report) print() {
	t := rep.Total
	fmt.Printf("%s, open loop at %.0f/s: %d ok, %.0f/s; latency p50 %.2fms, p90 %.2fms, p99 %.2fms, p99.9 %.2fms, max %.2fms\n",
		rep.Scenario, rep.ArrivalRate, t.OK, t.Throughput, t.P50, t.P90, t.P99, t.P999, t.Max)
	fmt.Printf("  sent after due: p50 %.2fms, p99 %.2fms, max %.2fms (included above)\n", rep.SentLate[0], rep.SentLate[1], rep.SentLate[2])
	kinds := make([]string, 0, len(rep.ByKind))
	for k := range rep.ByKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		w := rep.ByKind[k]
		fmt.Printf("  %-12s %7d ok, %6.0f/s; p50 %.2fms, p99 %.2fms, p99.9 %.2fms, max %.2fms; %d errors\n", k, w.OK, w.Throughput, w.P50, w.P99, w.P999, w.Max, w.Errors)
	}
	if len(rep.Errors) > 0 {
		codes := make([]string, 0, len(rep.Errors))
		for c := range rep.Errors {
			codes = append(codes, c)
		}
		sort.Strings(codes)
		fmt.Print("  errors:")
		for _, c := range codes {
			fmt.Printf(" %s %d", c, rep.Errors[c])
		}
		fmt.Println()
	}
	if rep.NotSent > 0 {
		fmt.Printf("  not sent: %d requests were due while every client was busy until the end (raise -concurrency, or the rate is past what the server takes)\n", rep.NotSent)
	}
}

func (rep Report) write(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	return nil
}
