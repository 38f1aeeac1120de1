package main

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// scrape sums the samples of each named metric at a Prometheus endpoint
// (all label sets together).
func scrape(url string, names ...string) (map[string]float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		base, _, _ := strings.Cut(name, "{")
		for _, n := range names {
			if base != n {
				continue
			}
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				continue
			}
			if v, err := strconv.ParseFloat(fields[0], 64); err == nil {
				out[n] += v
			}
		}
	}
	return out, sc.Err()
}

// drain watches a counter at a metrics endpoint until it has not moved for
// idle, and reports how fast it rose: the throughput of a consumer
// (forwarder deliveries, updater applications) working off a backlog.
func drain(url, metric string, idle, limit time.Duration) error {
	var first, last time.Time
	var start, prev float64
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		m, err := scrape(url, metric)
		if err != nil {
			if first.IsZero() {
				// The process may still be starting.
				time.Sleep(100 * time.Millisecond)
				continue
			}
			return err
		}
		v, now := m[metric], time.Now()
		switch {
		case first.IsZero() && v > 0:
			first, last, start, prev = now, now, v, v
		case v > prev:
			last, prev = now, v
		case !first.IsZero() && now.Sub(last) >= idle:
			d := last.Sub(first)
			fmt.Printf("%s: %.0f counted over %s: %.0f/s\n", metric, prev-start, d.Round(10*time.Millisecond), (prev-start)/d.Seconds())
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not settle within %s", metric, limit)
}

// watch prints the named metrics every interval for duration.
func watch(url string, names []string, every, duration time.Duration) error {
	start := time.Now()
	for time.Since(start) <= duration {
		m, err := scrape(url, names...)
		if err != nil {
			return err
		}
		var parts []string
		for _, n := range names {
			parts = append(parts, fmt.Sprintf("%s=%.0f", n, m[n]))
		}
		fmt.Printf("%6.1fs %s\n", time.Since(start).Seconds(), strings.Join(parts, " "))
		time.Sleep(every)
	}
	return nil
}
