// Package forwarder is sparrow-forwarder: it delivers every thread event to
// the legacy system over HTTP, in per-thread order, and commits a
// partition's offset only after its events were delivered.
package forwarder

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/flagenv"
	"github.com/falcon-chat/falcon/libs/server"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// Config is sparrow-forwarder's configuration block.
type Config struct {
	KafkaBrokers flagenv.List
	Topic        string
	Group        string
	LegacyURL    string
	HTTPAddr     string
	Timeout      time.Duration
	BackoffBase  time.Duration
	BackoffMax   time.Duration
}

func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.KafkaBrokers = flagenv.List{"127.0.0.1:9092"}
	fs.Var(&c.KafkaBrokers, "kafka-brokers", "Kafka bootstrap brokers, comma-separated")
	fs.StringVar(&c.Topic, "topic", "falcon.thread-events", "thread events topic")
	fs.StringVar(&c.Group, "group", "falcon-sparrow-forwarder", "consumer group")
	fs.StringVar(&c.LegacyURL, "legacy-url", "http://127.0.0.1:8090/events", "legacy system endpoint events are POSTed to")
	fs.StringVar(&c.HTTPAddr, "http-addr", "127.0.0.1:8084", "HTTP listen address (health, metrics)")
	fs.DurationVar(&c.Timeout, "legacy-timeout", 5*time.Second, "timeout of one delivery")
	fs.DurationVar(&c.BackoffBase, "backoff-base", 100*time.Millisecond, "first retry delay (doubles per attempt, with full jitter)")
	fs.DurationVar(&c.BackoffMax, "backoff-max", 10*time.Second, "longest retry delay")
}

func (c *Config) Validate() error {
	u, err := url.Parse(c.LegacyURL)
	switch {
	case len(c.KafkaBrokers) == 0:
		return errors.New("--kafka-brokers is required")
	case c.Topic == "":
		return errors.New("--topic is required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("--legacy-url=%q: want an http(s) URL", c.LegacyURL)
	case c.Timeout <= 0 || c.BackoffBase <= 0 || c.BackoffMax < c.BackoffBase:
		return errors.New("--legacy-timeout and --backoff-base must be positive, --backoff-max at least --backoff-base")
	}
	return nil
}

// Forwarder is the sparrow-forwarder component.
type Forwarder struct {
	cfg       Config
	log       *zap.Logger
	poster    *poster
	joined    atomic.Bool
	delivered *prometheus.CounterVec
	retried   prometheus.Counter
	skipped   prometheus.Counter
	lag       *prometheus.GaugeVec
}

func New(cfg Config, log *zap.Logger, reg prometheus.Registerer) (*Forwarder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := &Forwarder{
		cfg: cfg, log: log.With(zap.String("component", "sparrow-forwarder")),
		poster: &poster{url: cfg.LegacyURL, client: &http.Client{Timeout: cfg.Timeout, Transport: &http.Transport{
			// One connection per partition delivering at once, kept open.
			MaxIdleConns: 256, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}},
			backoff: backoff{base: cfg.BackoffBase, max: cfg.BackoffMax}},
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "falcon_forwarder_delivered_total",
			Help: "Events the legacy system accepted, by event type."}, []string{"event_type"}),
		retried: prometheus.NewCounter(prometheus.CounterOpts{Name: "falcon_forwarder_retries_total", Help: "Delivery attempts that failed and were retried."}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{Name: "falcon_forwarder_skipped_total", Help: "Records of an event type this build does not know."}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "falcon_forwarder_lag_events",
			Help: "Events of a partition not yet delivered."}, []string{"partition"}),
	}
	reg.MustRegister(f.delivered, f.retried, f.skipped, f.lag)
	return f, nil
}

func (f *Forwarder) RegisterGRPC(*grpc.Server)      {}
func (f *Forwarder) Gateway() []server.RegisterFunc { return nil }

func (f *Forwarder) Ready() error {
	if !f.joined.Load() {
		return errors.New("sparrow-forwarder has not joined its consumer group yet")
	}
	return nil
}

// Run consumes and delivers until ctx ends.
func (f *Forwarder) Run(ctx context.Context) error {
	client, err := sarama.NewClient(f.cfg.KafkaBrokers, eventlog.NewConfig("falcon-sparrow-forwarder"))
	if err != nil {
		return fmt.Errorf("connect to Kafka %v: %w", []string(f.cfg.KafkaBrokers), err)
	}
	defer client.Close()
	if _, err := eventlog.WaitForTopic(ctx, client, f.cfg.Topic); err != nil {
		return err
	}
	group, err := sarama.NewConsumerGroupFromClient(f.cfg.Group, client)
	if err != nil {
		return fmt.Errorf("consumer group %s: %w", f.cfg.Group, err)
	}
	go func() {
		for err := range group.Errors() {
			f.log.Warn("consumer group error", zap.Error(err))
		}
	}()
	for ctx.Err() == nil {
		if err := group.Consume(ctx, []string{f.cfg.Topic}, f); err != nil && !errors.Is(err, sarama.ErrClosedConsumerGroup) {
			f.log.Warn("consumer group session ended with an error; rejoining", zap.Error(err))
			time.Sleep(500 * time.Millisecond)
		}
	}
	return group.Close()
}

func (f *Forwarder) Setup(sess sarama.ConsumerGroupSession) error {
	f.joined.Store(true)
	f.log.Info("partitions assigned", zap.Int32s("partitions", sess.Claims()[f.cfg.Topic]))
	return nil
}

func (f *Forwarder) Cleanup(sess sarama.ConsumerGroupSession) error {
	sess.Commit()
	return nil
}

// ConsumeClaim delivers a partition's events one after the other, which
// keeps every thread's order; partitions run in parallel. An offset is marked
// only once its event was delivered.
func (f *Forwarder) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	log := f.log.With(zap.Int32("partition", claim.Partition()))
	lag := f.lag.WithLabelValues(fmt.Sprint(claim.Partition()))
	for {
		select {
		case <-sess.Context().Done():
			sess.Commit()
			return nil
		case msg, ok := <-claim.Messages():
			if !ok {
				sess.Commit()
				return nil
			}
			if err := f.forward(sess.Context(), log, msg); err != nil {
				// Stopping: not marked, so the next owner delivers it.
				sess.Commit()
				return nil
			}
			sess.MarkMessage(msg, "")
			lag.Set(float64(claim.HighWaterMarkOffset() - msg.Offset - 1))
		}
	}
}

func (f *Forwarder) forward(ctx context.Context, log *zap.Logger, msg *sarama.ConsumerMessage) error {
	var env falconv1.EventEnvelope
	if err := proto.Unmarshal(msg.Value, &env); err != nil {
		log.Error("skipping undecodable record", zap.Int64("offset", msg.Offset), zap.Error(err))
		f.skipped.Inc()
		return nil
	}
	body, eventType, known, err := Payload(&env)
	if err != nil || !known {
		f.skipped.Inc()
		return nil
	}
	err = f.poster.deliver(ctx, Delivery{EventID: env.GetEventId(), Body: body}, func(attempt int, err error) {
		f.retried.Inc()
		log.Warn("delivery failed; retrying", zap.String("event_id", env.GetEventId()), zap.String("event_type", eventType),
			zap.Int("attempt", attempt), zap.Error(err))
	})
	if err != nil {
		return err
	}
	f.delivered.WithLabelValues(eventType).Inc()
	return nil
}
