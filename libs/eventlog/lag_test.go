package eventlog_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/flagenv"
	"github.com/falcon-chat/falcon/libs/testenv"
)

// TestLagMeterStaysTrueWhileTheConsumerIsStuck: a consumer that does not
// move sees its lag grow with what is produced; a released partition has
// no series left.
func TestLagMeterStaysTrueWhileTheConsumerIsStuck(t *testing.T) {
	brokers := testenv.Kafka(t)
	topic := testenv.Name(t, "lag")
	testenv.ProduceThreads(t, brokers, topic, 2, 3, 4)
	cfg := eventlog.Config{Brokers: flagenv.List{brokers}, Topic: topic}
	client, err := cfg.Client("lag-test")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	gauge := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lag"}, []string{"partition"})
	m := eventlog.NewLagMeter(gauge)
	var pos0 atomic.Int64 // stuck at the start
	m.Own(0, pos0.Load)
	m.Own(1, func() int64 { return 1 << 40 }) // ahead of the end: never negative
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx, client, topic, 10*time.Millisecond) }()
	defer func() { cancel(); <-done }()

	end0, err := client.GetOffset(topic, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "partition 0's lag", func() bool {
		return testutil.ToFloat64(gauge.WithLabelValues("0")) == float64(end0)
	})
	testenv.ProduceThreads(t, brokers, topic, 2, 3, 4)
	end0, _ = client.GetOffset(topic, 0, -1)
	testenv.Eventually(t, 10*time.Second, "partition 0's lag to grow", func() bool {
		return testutil.ToFloat64(gauge.WithLabelValues("0")) == float64(end0)
	})
	if v := testutil.ToFloat64(gauge.WithLabelValues("1")); v != 0 {
		t.Errorf("a consumer ahead of the end: lag %v", v)
	}
	m.Release(0)
	m.Release(1)
	if n := testutil.CollectAndCount(gauge); n != 0 {
		t.Errorf("%d series left after the partitions were released", n)
	}
}
