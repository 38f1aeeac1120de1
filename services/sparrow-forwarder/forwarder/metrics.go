package forwarder

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
)

type metrics struct {
	delivered    *prometheus.CounterVec
	retried      prometheus.Counter
	deadLettered *prometheus.CounterVec
	skipped      prometheus.Counter
	imported     prometheus.Counter
	breaker      prometheus.Gauge
	lag          *prometheus.GaugeVec
	outstanding  *prometheus.GaugeVec
	endToEnd     prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "falcon_forwarder_delivered_total",
			Help: "Events the legacy system accepted, by event type."}, []string{"event_type"}),
		retried: prometheus.NewCounter(prometheus.CounterOpts{Name: "falcon_forwarder_retries_total",
			Help: "Delivery attempts that failed and will be retried (breaker-open waits included)."}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "falcon_forwarder_dead_lettered_total",
			Help: "Events written to the dead-letter topic, by reason: rejected, exhausted or held."}, []string{"reason"}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{Name: "falcon_forwarder_skipped_total",
			Help: "Records of an event type this build does not know, or undecodable."}),
		imported: prometheus.NewCounter(prometheus.CounterOpts{Name: "falcon_forwarder_imported_skipped_total",
			Help: "Events imported from the legacy system, not sent back to it."}),
		breaker: prometheus.NewGauge(prometheus.GaugeOpts{Name: "falcon_forwarder_breaker_state",
			Help: "Circuit breaker of the legacy endpoint: 0 closed, 1 half-open, 2 open."}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "falcon_forwarder_lag_events",
			Help: "Offsets of a partition this replica owns not yet delivered (end offset minus next offset to commit), measured every 2 s even while the replica is stuck."}, []string{"partition"}),
		endToEnd: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "falcon_forwarder_end_to_end_seconds",
			Help:    "Time from an event's decision in write-api (its occurredAt) to the legacy system's acceptance of it.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}),
		outstanding: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "falcon_forwarder_outstanding_deliveries",
			Help: "Events of a partition read but not yet delivered or dead-lettered."}, []string{"partition"}),
	}
	reg.MustRegister(m.delivered, m.retried, m.deadLettered, m.skipped, m.imported, m.breaker, m.lag, m.outstanding, m.endToEnd)
	// At zero from the start: an alert on their increase has a baseline.
	for _, reason := range []string{"rejected", "exhausted", "held"} {
		m.deadLettered.WithLabelValues(reason)
	}
	return m
}

func (m *metrics) breakerState(s gobreaker.State) {
	switch s {
	case gobreaker.StateClosed:
		m.breaker.Set(0)
	case gobreaker.StateHalfOpen:
		m.breaker.Set(1)
	case gobreaker.StateOpen:
		m.breaker.Set(2)
	}
}
