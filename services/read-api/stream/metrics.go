package stream

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	pushed      prometheus.Counter
	ended       *prometheus.CounterVec
	refused     *prometheus.CounterVec
	undecodable prometheus.Counter
	delay       prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, h *Hub) *metrics {
	m := &metrics{
		pushed: prometheus.NewCounter(prometheus.CounterOpts{Name: "falcon_stream_events_pushed_total",
			Help: "Events handed to stream subscribers."}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "falcon_stream_disconnects_total",
			Help: "Streams the replica ended, by reason (too_slow)."}, []string{"reason"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "falcon_stream_refused_total",
			Help: "Subscriptions refused at a cap, by cap (account, replica)."}, []string{"cap"}),
		undecodable: prometheus.NewCounter(prometheus.CounterOpts{Name: "falcon_stream_undecodable_events_total",
			Help: "Records of the events topic that did not decode."}),
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "falcon_stream_dispatch_delay_seconds",
			Help:    "From an event's decision to its hand-over to subscribers.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
	}
	// At zero from the start: rates and alerts over them have a baseline.
	m.ended.WithLabelValues("too_slow")
	for _, c := range []string{"account", "replica"} {
		m.refused.WithLabelValues(c)
	}
	reg.MustRegister(m.pushed, m.ended, m.refused, m.undecodable, m.delay,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "falcon_stream_subscribers",
			Help: "Streams the replica holds."}, func() float64 { return float64(h.subscribers()) }))
	return m
}
