package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestChartSVG: a chart is well-formed SVG, one line per series, every
// point inside the plot area.
func TestChartSVG(t *testing.T) {
	for _, c := range []chart{
		{title: "two lines <&>", lines: []series{{"a", "red", [][2]float64{{1, 5}, {2, 7}, {3, 100}}}, {"b", "blue", [][2]float64{{1, 0}, {3, 2}}}}},
		{title: "one point", lines: []series{{"a", "red", [][2]float64{{4, 4}}}}},
		{title: "log x", logX: true, xTicks: []float64{1, 10, 100}, lines: []series{{"a", "red", [][2]float64{{1, 1}, {10, 3}, {1000, 40}}}}},
		{title: "empty"},
	} {
		s := c.svg()
		d := xml.NewDecoder(strings.NewReader(s))
		lines := 0
		for {
			tok, err := d.Token()
			if err != nil {
				if err.Error() != "EOF" {
					t.Fatalf("%s: not well-formed: %v\n%s", c.title, err, s)
				}
				break
			}
			el, ok := tok.(xml.StartElement)
			if !ok || el.Name.Local != "polyline" {
				continue
			}
			lines++
			for _, a := range el.Attr {
				if a.Name.Local != "points" {
					continue
				}
				for _, p := range strings.Fields(a.Value) {
					xy := strings.Split(p, ",")
					x, _ := strconv.ParseFloat(xy[0], 64)
					y, _ := strconv.ParseFloat(xy[1], 64)
					if x < padL-0.5 || x > chartW-padR+0.5 || y < padT-0.5 || y > chartH-padB+0.5 {
						t.Errorf("%s: point %s outside the plot", c.title, p)
					}
				}
			}
		}
		if lines != len(c.lines) {
			t.Errorf("%s: %d lines drawn, want %d", c.title, lines, len(c.lines))
		}
	}
}

func TestKneeAndRates(t *testing.T) {
	pt := func(rate, got, p99 float64) SweepPoint {
		return SweepPoint{Rate: rate, Result: Window{Throughput: got, P99: p99}}
	}
	for _, c := range []struct {
		name   string
		points []SweepPoint
		want   int
	}{
		{"flat", []SweepPoint{pt(100, 100, 5), pt(200, 200, 6), pt(400, 399, 9)}, 0},
		{"latency climbs", []SweepPoint{pt(100, 100, 5), pt(200, 200, 8), pt(400, 400, 40)}, 2},
		{"falls behind", []SweepPoint{pt(100, 100, 5), pt(200, 150, 6)}, 1},
	} {
		if got := kneeOf(c.points); got != c.want {
			t.Errorf("%s: knee at %d, want %d", c.name, got, c.want)
		}
	}
	if r, err := parseRates("100, 200,400"); err != nil || len(r) != 3 || r[2] != 400 {
		t.Errorf("parseRates: %v %v", r, err)
	}
	for _, bad := range []string{"", "100,100", "200,100", "x", "-5"} {
		if _, err := parseRates(bad); err == nil {
			t.Errorf("parseRates(%q) accepted", bad)
		}
	}
}

func TestWriteReport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "r")
	rep := Report{Scenario: "list", Transport: "grpc", ArrivalRate: 100, Seconds: 2,
		Total:       Window{OK: 200, Throughput: 100, P99: 12.5},
		Errors:      map[string]int64{"Unavailable": 3},
		PerSecond:   []Window{{OK: 100, P50: 1, P99: 10}, {OK: 100, P50: 2, P99: 12.5}},
		Percentiles: []Percentile{{50, 1.5}, {99, 12.5}, {100, 20}},
		Server:      []ServerSample{{1, 0.5, 100}, {2, 0.7, 110}}}
	if err := rep.writeReport(dir); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Unavailable</td><td>3", "p99 12.50 ms", "<svg", "server-cpu"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	for _, f := range []string{"report.json", "throughput.svg", "latency.svg", "distribution.svg", "server-cpu.svg", "server-rss.svg"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestSweepChartsLogScale: past the knee latency grows by orders of
// magnitude, so the sweep draws it on decades.
func TestSweepChartsLogScale(t *testing.T) {
	points := []SweepPoint{{Rate: 500, Result: Window{Throughput: 500, P50: 1.5, P99: 9, P999: 17}},
		{Rate: 1000, Result: Window{Throughput: 990, P50: 2, P99: 25, P999: 37}},
		{Rate: 3000, Result: Window{Throughput: 2200, P50: 1900, P99: 2800, P999: 2900}}}
	c := config{scenario: "list", transport: "rest"}
	for _, ch := range []chart{sweepChart(c, points), sweepThroughputChart(c, points)} {
		s := ch.svg()
		if err := xml.Unmarshal([]byte(s), new(any)); err != nil {
			t.Fatalf("%s: %v", ch.title, err)
		}
	}
	if s := sweepChart(c, points).svg(); !strings.Contains(s, ">1000<") || !strings.Contains(s, ">1<") {
		t.Errorf("log scale ticks missing: decades 1 to 10000 ms expected")
	}
}
