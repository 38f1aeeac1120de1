package writeapi

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	// partitions is the events topic's partition count: every one must
	// have an owner (the sum of owned over the replicas).
	partitions    prometheus.Gauge
	owned         prometheus.Gauge
	rebalances    prometheus.Counter
	replayed      prometheus.Counter
	fenced        prometheus.Counter
	forwarded     *prometheus.CounterVec
	commitSeconds prometheus.Histogram
	batchSize     prometheus.Histogram
	// takeoverSeconds times a partition's load: fencing, snapshots, replay.
	takeoverSeconds   prometheus.Histogram
	snapshots         prometheus.Counter
	snapshotsMoved    prometheus.Counter
	snapshotSeconds   *prometheus.HistogramVec
	snapshotFallbacks prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		partitions: prometheus.NewGauge(prometheus.GaugeOpts{Name: "falcon_write_topic_partitions", Help: "Partitions of the events topic, each of which one replica must own."}),
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
	m.takeoverSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "falcon_write_takeover_duration_seconds",
		Help: "Time to take a partition over: fence, load snapshots, replay.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)})
	m.snapshots = prometheus.NewCounter(prometheus.CounterOpts{Name: "falcon_write_snapshots_total", Help: "Thread snapshots written."})
	m.snapshotsMoved = prometheus.NewCounter(prometheus.CounterOpts{Name: "falcon_write_snapshots_moved_total",
		Help: "Snapshots of unchanged threads rewritten so that a new owner reads less of the snapshots partition."})
	// A partition's writer takes no command while it writes a part of a
	// snapshot.
	m.snapshotSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "falcon_write_snapshot_duration_seconds",
		Help:    "Time a partition's writer spent writing a part of a snapshot (commands wait meanwhile), by kind: changed threads (and unchanged ones moved forward, falcon_write_snapshots_moved_total) or complete (an owner's first).",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}, []string{"kind"})
	m.snapshotFallbacks = prometheus.NewCounter(prometheus.CounterOpts{Name: "falcon_write_snapshot_fallbacks_total",
		Help: "Takeovers that could not use the snapshots and replayed the whole partition."})
	// At zero from the start: rates over them have a baseline.
	m.forwarded.WithLabelValues("OK")
	m.forwarded.WithLabelValues("error")
	m.snapshotSeconds.WithLabelValues(snapshotChanged)
	m.snapshotSeconds.WithLabelValues(snapshotComplete)
	reg.MustRegister(m.partitions, m.owned, m.rebalances, m.replayed, m.fenced, m.forwarded, m.commitSeconds, m.batchSize,
		m.takeoverSeconds, m.snapshots, m.snapshotsMoved, m.snapshotSeconds, m.snapshotFallbacks)
	return m
}
