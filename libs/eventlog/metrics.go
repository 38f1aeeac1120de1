package eventlog

import (
	"regexp"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	gometrics "github.com/rcrowley/go-metrics"
)

// ClientMetrics exports sarama's own metrics (request latency, bytes in and
// out, batch sizes, requests in flight, per broker and per topic) to reg,
// and returns the registry the clients record them in: set it as the
// Config's Metrics. Every client of the process shares it, so the figures
// are the process's.
func ClientMetrics(reg prometheus.Registerer) gometrics.Registry {
	r := gometrics.NewRegistry()
	reg.MustRegister(saramaCollector{r})
	return r
}

// saramaCollector turns a go-metrics registry into Prometheus metrics when
// scraped: meters into counters (sarama_<name>_total), histograms into
// summaries, counters and gauges into gauges (incoming-byte-rate becomes
// sarama_incoming_byte_total, request-latency-in-ms
// sarama_request_latency_in_ms); a "-for-broker-<id>" or
// "-for-topic-<name>" suffix into a label. Its series change as brokers
// come and go: it is an unchecked collector.
type saramaCollector struct{ r gometrics.Registry }

func (saramaCollector) Describe(chan<- *prometheus.Desc) {}

var (
	forBroker   = regexp.MustCompile(`-for-broker-(-?\d+)$`)
	forTopic    = regexp.MustCompile(`-for-topic-(.+)$`)
	nonMetric   = regexp.MustCompile(`[^a-zA-Z0-9_]`)
	saramaLabel = []string{"broker", "topic"}
)

func (c saramaCollector) Collect(ch chan<- prometheus.Metric) {
	c.r.Each(func(name string, m any) {
		broker, topic := "", ""
		if s := forBroker.FindStringSubmatch(name); s != nil {
			broker, name = s[1], strings.TrimSuffix(name, s[0])
		} else if s := forTopic.FindStringSubmatch(name); s != nil {
			topic, name = s[1], strings.TrimSuffix(name, s[0])
		}
		base := "sarama_" + nonMetric.ReplaceAllString(name, "_")
		help := "sarama's " + name + " (go-metrics), for all brokers and topics where broker and topic are empty."
		switch m := m.(type) {
		case gometrics.Meter:
			// A meter counts, and rates the count: Prometheus rates it.
			base = "sarama_" + nonMetric.ReplaceAllString(strings.Replace(name, "-rate", "", 1), "_")
			desc := prometheus.NewDesc(base+"_total", help, saramaLabel, nil)
			ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(m.Count()), broker, topic)
		case gometrics.Histogram:
			s := m.Snapshot()
			desc := prometheus.NewDesc(base, help, saramaLabel, nil)
			qs := map[float64]float64{}
			for _, q := range []float64{0.5, 0.9, 0.99} {
				qs[q] = s.Percentile(q)
			}
			ch <- prometheus.MustNewConstSummary(desc, uint64(s.Count()), float64(s.Sum()), qs, broker, topic)
		case gometrics.Counter:
			desc := prometheus.NewDesc(base, help, saramaLabel, nil)
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(m.Count()), broker, topic)
		case gometrics.Gauge:
			desc := prometheus.NewDesc(base, help, saramaLabel, nil)
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(m.Value()), broker, topic)
		case gometrics.GaugeFloat64:
			desc := prometheus.NewDesc(base, help, saramaLabel, nil)
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, m.Value(), broker, topic)
		}
	})
}
