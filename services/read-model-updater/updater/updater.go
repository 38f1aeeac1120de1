// Package updater is read-model-updater: it consumes thread events under
// its own consumer group and applies them, in batches and idempotently, to
// the read models, committing offsets only after a batch is durable.
package updater

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/flagenv"
	"github.com/falcon-chat/falcon/libs/readmodel"
	"github.com/falcon-chat/falcon/libs/readstore"
	"github.com/falcon-chat/falcon/libs/retry"
	"github.com/falcon-chat/falcon/libs/server"
)

// Config is read-model-updater's configuration block.
type Config struct {
	KafkaBrokers flagenv.List
	Topic        string
	Group        string
	Store        string
	HTTPAddr     string
	// BatchSize and BatchWait bound a batch: it is applied when it holds
	// BatchSize events or BatchWait after its first one.
	BatchSize int
	BatchWait time.Duration
}

func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.KafkaBrokers = flagenv.List{"127.0.0.1:9092"}
	fs.Var(&c.KafkaBrokers, "kafka-brokers", "Kafka bootstrap brokers, comma-separated")
	fs.StringVar(&c.Topic, "topic", "falcon.thread-events", "thread events topic")
	fs.StringVar(&c.Group, "group", "falcon-read-model-updater", "consumer group")
	fs.StringVar(&c.Store, "store", "pebble:///var/lib/falcon/read-store", "read store URL: pebble:///path or hbase+thrift://host:port")
	fs.StringVar(&c.HTTPAddr, "http-addr", "127.0.0.1:8082", "HTTP listen address (health, metrics)")
	fs.IntVar(&c.BatchSize, "batch-size", 1000, "most events applied in one batch")
	fs.DurationVar(&c.BatchWait, "batch-wait", 5*time.Millisecond, "longest a batch waits to fill")
}

func (c *Config) Validate() error {
	switch {
	case len(c.KafkaBrokers) == 0:
		return errors.New("--kafka-brokers is required")
	case c.Topic == "":
		return errors.New("--topic is required")
	case c.BatchSize < 1:
		return errors.New("--batch-size must be at least 1")
	}
	return nil
}

// applyBackoff spaces the attempts at a batch the store refused.
var applyBackoff = retry.Backoff{Base: 100 * time.Millisecond, Max: 2 * time.Second}

// Updater is the read-model-updater component.
type Updater struct {
	cfg     Config
	status  *retry.Status
	log     *zap.Logger
	store   readstore.Store
	gen     atomic.Pointer[generation]
	joined  atomic.Bool
	applied prometheus.Counter
	skipped prometheus.Counter
	batches prometheus.Histogram
	lag     *prometheus.GaugeVec
}

// New returns an updater writing to store.
func New(cfg Config, store readstore.Store, log *zap.Logger, reg prometheus.Registerer) (*Updater, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	u := &Updater{
		cfg: cfg, log: log.With(zap.String("component", "read-model-updater")),
		status:  retry.NewStatus(fmt.Errorf("not connected to Kafka at %s yet", cfg.KafkaBrokers.String())),
		store:   store,
		applied: prometheus.NewCounter(prometheus.CounterOpts{Name: "falcon_updater_events_applied_total", Help: "Events applied to the read models."}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{Name: "falcon_updater_events_skipped_total", Help: "Events skipped: already applied, or of a type this build does not know."}),
		batches: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "falcon_updater_batch_duration_seconds",
			Help: "Time to apply one batch durably.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "falcon_updater_lag_events",
			Help: "Events of a partition not yet applied."}, []string{"partition"}),
	}
	reg.MustRegister(u.applied, u.skipped, u.batches, u.lag)
	return u, nil
}

// generation is the read-model generation the updater writes to.
type generation struct {
	state     readmodel.State
	projector *readmodel.Projector
}

// follow keeps u.gen in step with the generation pointer in the store until
// ctx ends: a rebuild pauses the updaters, then moves them to new tables.
func (u *Updater) follow(ctx context.Context) error {
	t := time.NewTicker(readmodel.PollInterval)
	defer t.Stop()
	for {
		st, err := readmodel.LoadState(ctx, u.store)
		if err != nil && ctx.Err() == nil {
			u.log.Warn("cannot read the read-model generation; keeping the last one", zap.Error(err))
		}
		if cur := u.gen.Load(); err == nil && (cur == nil || cur.state != st) {
			if cur != nil && cur.state.Current != st.Current {
				u.log.Info("switching to read-model generation", zap.Uint64("generation", uint64(st.Current)))
			}
			u.gen.Store(&generation{state: st, projector: readmodel.NewProjector(readmodel.AtGeneration(u.store, st.Current))})
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (u *Updater) RegisterGRPC(*grpc.Server)      {}
func (u *Updater) Gateway() []server.RegisterFunc { return nil }

func (u *Updater) Ready() error {
	if err := u.status.Err(); err != nil {
		return err
	}
	if !u.joined.Load() {
		return errors.New("read-model-updater has not joined its consumer group yet")
	}
	return nil
}

// Run connects to Kafka and the read store (retrying until both answer),
// then consumes until ctx ends. The batch in progress is finished and its
// offsets committed before it returns.
func (u *Updater) Run(ctx context.Context) error {
	brokers := u.cfg.KafkaBrokers.String()
	var client sarama.Client
	if err := retry.Until(ctx, u.log, "connecting to Kafka at "+brokers, retry.Default, u.status, func(ctx context.Context) (err error) {
		client, err = sarama.NewClient(u.cfg.KafkaBrokers, eventlog.NewConfig("falcon-read-model-updater"))
		if err != nil {
			return fmt.Errorf("connect to Kafka at %s: %w", brokers, err)
		}
		u.status.Set(fmt.Errorf("waiting for topic %s to exist on Kafka at %s", u.cfg.Topic, brokers))
		if _, err := eventlog.WaitForTopic(ctx, client, u.cfg.Topic); err != nil {
			client.Close()
			return err
		}
		return nil
	}); err != nil {
		return nil // stopped before Kafka answered
	}
	defer client.Close()
	var st readmodel.State
	if err := retry.Until(ctx, u.log, "reading the read-model generation from the store", retry.Default, u.status, func(ctx context.Context) (err error) {
		if st, err = readmodel.LoadState(ctx, u.store); err != nil {
			return fmt.Errorf("read-model generation: %w", err)
		}
		return nil
	}); err != nil {
		return nil
	}
	u.gen.Store(&generation{state: st, projector: readmodel.NewProjector(readmodel.AtGeneration(u.store, st.Current))})
	followCtx, stopFollowing := context.WithCancel(ctx)
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		_ = u.follow(followCtx)
	}()
	defer func() { stopFollowing(); <-followed }()
	group, err := sarama.NewConsumerGroupFromClient(u.cfg.Group, client)
	if err != nil {
		return fmt.Errorf("consumer group %s: %w", u.cfg.Group, err)
	}
	eventlog.Consume(ctx, group, u.cfg.Topic, u, u.log)
	return group.Close()
}

func (u *Updater) Setup(sess sarama.ConsumerGroupSession) error {
	u.joined.Store(true)
	u.log.Info("partitions assigned", zap.Int32s("partitions", sess.Claims()[u.cfg.Topic]))
	return nil
}

func (u *Updater) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// ConsumeClaim applies one partition's events in batches. A batch that
// cannot be written is retried, never skipped: the partition waits.
func (u *Updater) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	lag := u.lag.WithLabelValues(fmt.Sprint(claim.Partition()))
	batch := make([]domain.Event, 0, u.cfg.BatchSize)
	var last *sarama.ConsumerMessage
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func(ctx context.Context) error {
		if last == nil {
			return nil
		}
		start := time.Now()
		for attempt := 1; ; attempt++ {
			g := u.gen.Load()
			if g.state.Paused {
				// A rebuild is levelling the next generation: hold the batch.
				if err := eventlog.Sleep(ctx, readmodel.PollInterval); err != nil {
					return err
				}
				attempt = 0
				continue
			}
			n, err := g.projector.Apply(ctx, batch)
			if err == nil {
				u.applied.Add(float64(n))
				u.skipped.Add(float64(len(batch) - n))
				break
			}
			if ctx.Err() != nil {
				// Not committed: the next owner of the partition applies it.
				return ctx.Err()
			}
			u.log.Error("applying a batch failed; retrying", zap.Int32("partition", claim.Partition()),
				zap.Int64("offset", last.Offset), zap.Int("attempt", attempt), zap.Error(err))
			if err := eventlog.Sleep(ctx, applyBackoff.Delay(attempt)); err != nil {
				return err
			}
		}
		u.batches.Observe(time.Since(start).Seconds())
		sess.MarkMessage(last, "")
		lag.Set(float64(claim.HighWaterMarkOffset() - last.Offset - 1))
		batch, last = batch[:0], nil
		return nil
	}
	for {
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return u.finish(flush)
			}
			e, err := eventlog.Decode(msg.Value)
			switch {
			case errors.Is(err, eventlog.ErrUnknownEvent):
				u.skipped.Inc()
			case err != nil:
				u.log.Error("skipping undecodable record", zap.Int32("partition", msg.Partition), zap.Int64("offset", msg.Offset), zap.Error(err))
				u.skipped.Inc()
			default:
				batch = append(batch, e)
			}
			if last == nil {
				timer.Reset(u.cfg.BatchWait)
			}
			last = msg
			if len(batch) >= u.cfg.BatchSize {
				timer.Stop()
				if err := flush(sess.Context()); err != nil {
					return nil
				}
			}
		case <-timer.C:
			if err := flush(sess.Context()); err != nil {
				return nil
			}
		case <-sess.Context().Done():
			return u.finish(flush)
		}
	}
}

// finish applies and commits the batch in hand when the partition is revoked
// or the process stops, bounded so that shutdown cannot hang on the store.
func (u *Updater) finish(flush func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = flush(ctx)
	return nil
}
