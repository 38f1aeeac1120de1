package hbasestore

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/falcon-chat/falcon/libs/readstore"
)

// clientMetrics time and count the Thrift calls to the gateway, by Thrift
// method (get, getMultiple, putMultiple, mutateRow, openScanner, ...).
type clientMetrics struct {
	duration *prometheus.HistogramVec
	calls    *prometheus.CounterVec
	retries  *prometheus.CounterVec
}

func newClientMetrics() *clientMetrics {
	return &clientMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "falcon_hbase_client_call_duration_seconds",
			Help:    "Thrift calls to the HBase gateway, retries included, by method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"op"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "falcon_hbase_client_calls_total",
			Help: "Thrift calls to the HBase gateway by method and outcome: ok, hbase_error (HBase refused it), unavailable (the gateway could not be reached or answer), canceled.",
		}, []string{"op", "outcome"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "falcon_hbase_client_retries_total",
			Help: "Thrift calls made again on a fresh connection after a transport error, by method.",
		}, []string{"op"}),
	}
}

func (m *clientMetrics) observe(op string, start time.Time, err error) {
	m.duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	outcome := "ok"
	var herr *Error
	switch {
	case err == nil:
	case errors.As(err, &herr):
		outcome = "hbase_error"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		outcome = "canceled"
	case errors.Is(err, readstore.ErrUnavailable):
		outcome = "unavailable"
	default:
		outcome = "error"
	}
	m.calls.WithLabelValues(op, outcome).Inc()
}

// Describe implements prometheus.Collector: a service registers the store
// to export its client metrics.
func (s *Store) Describe(ch chan<- *prometheus.Desc) {
	s.metrics.duration.Describe(ch)
	s.metrics.calls.Describe(ch)
	s.metrics.retries.Describe(ch)
}

// Collect implements prometheus.Collector.
func (s *Store) Collect(ch chan<- prometheus.Metric) {
	s.metrics.duration.Collect(ch)
	s.metrics.calls.Collect(ch)
	s.metrics.retries.Collect(ch)
}
