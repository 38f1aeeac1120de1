package eventlog

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// LagMeter keeps a consumer's lag gauge (by partition) true: end offset
// minus the consumer's position, for the partitions it owns, asked of the
// brokers every interval with a client of its own. The consumer's own view
// of the end stops moving when it is stuck or paused, which is when lag
// matters; a released partition's series is deleted, so that two replicas
// never both report one.
type LagMeter struct {
	gauge *prometheus.GaugeVec
	mu    sync.Mutex
	owned map[int32]func() int64
}

// NewLagMeter returns a meter setting gauge, whose one label is the
// partition.
func NewLagMeter(gauge *prometheus.GaugeVec) *LagMeter {
	return &LagMeter{gauge: gauge, owned: map[int32]func() int64{}}
}

// Own starts measuring partition p; next is the consumer's position (the
// offset of the next record it has not finished with).
func (m *LagMeter) Own(p int32, next func() int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.owned[p] = next
}

// Release stops measuring p and deletes its series.
func (m *LagMeter) Release(p int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.owned, p)
	m.gauge.DeleteLabelValues(fmt.Sprint(p))
}

// Run measures every interval until ctx ends.
func (m *LagMeter) Run(ctx context.Context, client sarama.Client, topic string, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		m.measure(client, topic)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *LagMeter) measure(client sarama.Client, topic string) {
	m.mu.Lock()
	owned := make(map[int32]func() int64, len(m.owned))
	for p, next := range m.owned {
		owned[p] = next
	}
	m.mu.Unlock()
	for p, next := range owned {
		end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			continue // the broker does not answer: the last value stands
		}
		m.mu.Lock()
		// Released while asking: its series stays deleted.
		if _, still := m.owned[p]; still {
			// A position below 0 is "from the oldest", before anything is done.
			m.gauge.WithLabelValues(fmt.Sprint(p)).Set(float64(max(0, end-max(0, next()))))
		}
		m.mu.Unlock()
	}
}

// LagInterval is how often the consumers measure their lag.
const LagInterval = 2 * time.Second

// MeasureLag runs m every LagInterval until ctx ends, with a client of its
// own (a lag request must not wait behind the consumer's long fetches).
func MeasureLag(ctx context.Context, cfg Config, clientID string, m *LagMeter, log *zap.Logger) {
	client, err := cfg.Client(clientID)
	if err != nil {
		log.Warn("no lag metric: cannot connect to Kafka", zap.Error(err))
		return
	}
	defer client.Close()
	m.Run(ctx, client, cfg.Topic, LagInterval)
}
