package writeapi

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	owned         prometheus.Gauge
	rebalances    prometheus.Counter
	replayed      prometheus.Counter
	fenced        prometheus.Counter
	forwarded     *prometheus.CounterVec
	commitSeconds prometheus.Histogram
	batchSize     prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		owned:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "falcon_write_owned_partitions", Help: "Partitions this replica owns."}),
		rebalances: prometheus.NewCounter(prometheus.CounterOpts{Name: "falcon_write_rebalances_total", Help: "Consumer-group generations this replica joined."}),
		replayed:   prometheus.NewCounter(prometheus.CounterOpts{Name: "falcon_write_replayed_events_total", Help: "Events replayed to rebuild owned partitions."}),
		fenced:     prometheus.NewCounter(prometheus.CounterOpts{Name: "falcon_write_fenced_total", Help: "Times a partition writer was fenced by a newer owner."}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "falcon_write_forwarded_commands_total",
			Help: "Commands forwarded to the partition's owner, by outcome."}, []string{"outcome"}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "falcon_write_commit_duration_seconds",
			Help: "Duration of one Kafka transaction (group commit).", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "falcon_write_commit_events",
			Help: "Events per transaction.", Buckets: prometheus.ExponentialBuckets(1, 2, 10)}),
	}
	reg.MustRegister(m.owned, m.rebalances, m.replayed, m.fenced, m.forwarded, m.commitSeconds, m.batchSize)
	return m
}
