// Package updater is read-model-updater: it consumes thread events under
// its own consumer group and applies them, in batches and idempotently, to
// the read models, committing offsets only after a batch is durable.
package updater

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
	falconlog "github.com/falcon-chat/falcon/libs/logging"
	"github.com/falcon-chat/falcon/libs/readmodel"
	"github.com/falcon-chat/falcon/libs/readstore"
	"github.com/falcon-chat/falcon/libs/retry"
)

// Config is read-model-updater's configuration block.
type Config struct {
	Kafka    eventlog.Config
	Group    string
	Store    string
	HTTPAddr string
	// BatchSize and BatchWait bound a batch: it is applied when it holds
	// BatchSize events or BatchWait after its first one. With no BatchWait
	// it is applied as soon as no more events are waiting: the events that
	// arrive while one batch is written make the next, so batches grow
	// with the load and a lone event is not held back.
	BatchSize int
	BatchWait time.Duration
	// SyncInterval is how often the store is synced when it can make
	// writes durable in groups (Pebble): a batch is readable when applied,
	// and its offset is committed after the next sync.
	SyncInterval time.Duration
}

// RegisterFlags adds read-model-updater's flags to fs with their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Kafka.RegisterFlags(fs)
	fs.StringVar(&c.Group, "group", "falcon-read-model-updater", "consumer group")
	fs.StringVar(&c.Store, "store", "pebble:///var/lib/falcon/read-store", "read store URL: pebble:///path or hbase+thrift://host:port")
	fs.StringVar(&c.HTTPAddr, "http-addr", "127.0.0.1:8082", "HTTP listen address (health, metrics)")
	fs.IntVar(&c.BatchSize, "batch-size", 1000, "most events applied in one batch")
	fs.DurationVar(&c.BatchWait, "batch-wait", 0, "longest a batch waits to fill; 0: applied as soon as no more events are waiting")
	fs.DurationVar(&c.SyncInterval, "sync-interval", 50*time.Millisecond, "how often an embedded store (Pebble) is synced: batches are readable when applied, their offsets committed once synced")
}

// Validate checks the configuration before anything starts.
func (c *Config) Validate() error {
	if err := c.Kafka.Validate(); err != nil {
		return err
	}
	switch {
	case c.BatchSize < 1:
		return errors.New("--batch-size must be at least 1")
	case c.BatchWait < 0:
		return errors.New("--batch-wait must not be negative (0: apply a batch as soon as no more events wait)")
	case c.SyncInterval <= 0:
		return errors.New("--sync-interval must be positive, e.g. 50ms")
	}
	return nil
}

// endToEndBuckets span a healthy pipeline (milliseconds) to one catching up
// after an outage (minutes).
var endToEndBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}

// maxLinks bounds the trace links of a batch's span (OpenTelemetry's
// default limit): a larger batch links its first events.
const maxLinks = 128

// applyBackoff spaces the attempts at a batch the store refused.
var applyBackoff = retry.Backoff{Base: 100 * time.Millisecond, Max: 2 * time.Second}

// Updater is the read-model-updater component.
type Updater struct {
	cfg    Config
	status *retry.Status
	log    *zap.Logger
	store  readstore.Store
	gen    atomic.Pointer[generation]
	// durable marks offsets once the batches they cover are durable.
	durable *groupSync
	// id names this updater in its heartbeats.
	id string
	// applying is held (shared) while a batch is written, so that
	// acknowledging a pause can wait for the batches in flight.
	applying sync.RWMutex
	joined   atomic.Bool
	applied  prometheus.Counter
	skipped  prometheus.Counter
	batches  prometheus.Histogram
	// endToEnd is the time from an event's decision to its being applied.
	endToEnd prometheus.Histogram
	lag      *eventlog.LagMeter
	tracer   trace.Tracer
}

// New returns an updater writing to store; each batch is a span of tp,
// linked to the traces of its events.
func New(cfg Config, store readstore.Store, log *zap.Logger, reg prometheus.Registerer, tp trace.TracerProvider) (*Updater, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Kafka.Metrics == nil {
		cfg.Kafka.Metrics = eventlog.ClientMetrics(reg)
	}
	u := &Updater{
		cfg: cfg, log: log.With(zap.String("component", "read-model-updater")), id: ulid.Make().String(),
		status:  retry.NewStatus(fmt.Errorf("not connected to Kafka at %s yet", cfg.Kafka.Brokers.String())),
		store:   store,
		tracer:  tp.Tracer("github.com/falcon-chat/falcon/services/read-model-updater"),
		applied: prometheus.NewCounter(prometheus.CounterOpts{Name: "falcon_updater_events_applied_total", Help: "Events applied to the read models."}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{Name: "falcon_updater_events_skipped_total", Help: "Events skipped: already applied, or of a type this build does not know."}),
		batches: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "falcon_updater_batch_duration_seconds",
			Help: "Time to apply one batch: readable when done; durable at the next sync of an embedded store, at once on HBase.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		endToEnd: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "falcon_updater_end_to_end_seconds",
			Help:    "Time from an event's decision in write-api (its occurredAt) to its being applied in the read model.",
			Buckets: endToEndBuckets}),
	}
	u.durable = newGroupSync(store, cfg.SyncInterval, u.log)
	lag := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "falcon_updater_lag_events",
		Help: "Offsets of a partition this replica owns not yet applied (end offset minus position), measured every 2 s even while the replica is stuck."}, []string{"partition"})
	u.lag = eventlog.NewLagMeter(lag)
	reg.MustRegister(u.applied, u.skipped, u.batches, u.endToEnd, lag)
	return u, nil
}

// generation is the read-model generation the updater writes to.
type generation struct {
	state     readmodel.State
	projector *readmodel.Projector
	// unknown says the pointer could not be read: the updater holds its
	// batches rather than write to a generation that may be old.
	unknown bool
}

// projector writes generation g's tables, its batches readable at once
// and made durable by u.durable.
func (u *Updater) projector(g readmodel.Generation) *readmodel.Projector {
	return readmodel.NewProjector(readmodel.AtGeneration(readstore.Visible(u.store), g))
}

// hold says whether batches must wait: a rebuild's pause, or a pointer the
// updater cannot read.
func (g *generation) hold() bool { return g.state.Paused || g.unknown }

// livenessWindow is how long after its last heartbeat a rebuild still
// counts an updater as alive, and waits for it to acknowledge a pause.
const livenessWindow = 10 * time.Second

// follow keeps u.gen in step with the generation pointer in the store until
// ctx ends: a rebuild pauses the updaters, then moves them to new tables.
// Each poll also records a heartbeat; once a pause is seen and no batch is
// being applied any more, the heartbeat acknowledges it, which is what the
// rebuild waits for before it takes over.
func (u *Updater) follow(ctx context.Context) error {
	t := time.NewTicker(readmodel.PollInterval)
	defer t.Stop()
	acked := ""
	for {
		st, err := readmodel.LoadState(ctx, u.store)
		cur := u.gen.Load()
		switch {
		case err != nil && ctx.Err() == nil:
			if !cur.unknown {
				u.log.Warn("cannot read the read-model generation; holding batches until it can", zap.Error(err))
				u.gen.Store(&generation{state: cur.state, projector: cur.projector, unknown: true})
			}
		case err == nil && (cur.unknown || cur.state != st):
			if cur.state.Current != st.Current {
				u.log.Info("switching to read-model generation", zap.Uint64("generation", uint64(st.Current)))
			}
			u.gen.Store(&generation{state: st, projector: u.projector(st.Current)})
		}
		if err == nil && st.Paused && st.PauseID != acked {
			// Every batch that saw the old state has finished once this
			// returns; the later ones hold.
			u.applying.Lock()
			u.applying.Unlock() //nolint:staticcheck // an empty critical section: waiting for the readers is the point
			acked = st.PauseID
			u.log.Info("paused for a rebuild", zap.String("pause", acked))
		}
		if err := readmodel.Heartbeat(ctx, u.store, u.id, time.Now(), acked); err != nil && ctx.Err() == nil {
			u.log.Debug("heartbeat not recorded", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Ready is nil once the updater reached Kafka and the store and joined its
// consumer group.
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
	brokers := u.cfg.Kafka.Brokers.String()
	var client sarama.Client
	if err := retry.Until(ctx, u.log, "connecting to Kafka at "+brokers, retry.Default, u.status, func(ctx context.Context) (err error) {
		client, err = u.cfg.Kafka.Client("falcon-read-model-updater")
		if err != nil {
			return err
		}
		u.status.Set(fmt.Errorf("waiting for topic %s to exist on Kafka at %s", u.cfg.Kafka.Topic, brokers))
		if _, err := eventlog.WaitForTopic(ctx, client, u.cfg.Kafka.Topic); err != nil {
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
	u.gen.Store(&generation{state: st, projector: u.projector(st.Current)})
	followCtx, stopFollowing := context.WithCancel(ctx)
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		_ = u.follow(followCtx)
	}()
	measured := make(chan struct{})
	go func() {
		defer close(measured)
		eventlog.MeasureLag(followCtx, u.cfg.Kafka, "falcon-read-model-updater-lag", u.lag, u.log)
	}()
	synced := make(chan struct{})
	go func() {
		defer close(synced)
		u.durable.run(followCtx)
	}()
	defer func() {
		stopFollowing()
		<-followed
		<-measured
		<-synced
		// Gone for good: a rebuild need not wait for this one.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = readmodel.Forget(fctx, u.store, u.id)
	}()
	group, err := sarama.NewConsumerGroupFromClient(u.cfg.Group, client)
	if err != nil {
		return fmt.Errorf("consumer group %s: %w", u.cfg.Group, err)
	}
	eventlog.Consume(ctx, group, u.cfg.Kafka.Topic, u, u.log)
	return group.Close()
}

// Setup implements sarama.ConsumerGroupHandler.
func (u *Updater) Setup(sess sarama.ConsumerGroupSession) error {
	u.joined.Store(true)
	// The partitions may have moved: what the projector remembers of their
	// threads may be old (it would read them again, finding other versions;
	// this keeps it from holding threads it no longer writes).
	u.gen.Load().projector.Forget()
	u.log.Info("partitions assigned", zap.Int32s("partitions", sess.Claims()[u.cfg.Kafka.Topic]))
	return nil
}

// Cleanup implements sarama.ConsumerGroupHandler.
func (u *Updater) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// ConsumeClaim applies one partition's events in batches. A batch that
// cannot be written is retried, never skipped: the partition waits.
func (u *Updater) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	// next is the offset after the last batch applied and committed.
	var next atomic.Int64
	next.Store(claim.InitialOffset())
	u.lag.Own(claim.Partition(), next.Load)
	defer u.lag.Release(claim.Partition())
	batch := make([]domain.Event, 0, u.cfg.BatchSize)
	// links are the traces of the batch's events (the requests that made
	// them), up to maxLinks.
	var links []trace.Link
	var last *sarama.ConsumerMessage
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func(ctx context.Context) error {
		if last == nil {
			return nil
		}
		start := time.Now()
		ctx, span := u.tracer.Start(ctx, "apply events", trace.WithLinks(links...), trace.WithAttributes(
			attribute.Int("messaging.batch.message_count", len(batch)),
			attribute.Int("messaging.destination.partition.id", int(claim.Partition())),
			attribute.Int64("falcon.offset.last", last.Offset)))
		defer span.End()
		for attempt := 1; ; attempt++ {
			u.applying.RLock()
			g := u.gen.Load()
			if g.hold() {
				u.applying.RUnlock()
				// A rebuild is levelling the next generation: hold the batch.
				if err := eventlog.Sleep(ctx, readmodel.PollInterval); err != nil {
					return err
				}
				attempt = 0
				continue
			}
			n, err := g.projector.Apply(ctx, batch)
			u.applying.RUnlock()
			if err == nil {
				u.applied.Add(float64(n))
				u.skipped.Add(float64(len(batch) - n))
				break
			}
			if ctx.Err() != nil {
				// Not committed: the next owner of the partition applies it.
				span.SetStatus(codes.Error, "stopped before the batch was applied")
				return ctx.Err()
			}
			span.RecordError(err)
			falconlog.For(ctx, u.log).Error("applying a batch failed; retrying", zap.Int32("partition", claim.Partition()),
				zap.Int64("offset", last.Offset), zap.Int("attempt", attempt), zap.Error(err))
			if err := eventlog.Sleep(ctx, applyBackoff.Delay(attempt)); err != nil {
				return err
			}
		}
		u.batches.Observe(time.Since(start).Seconds())
		now := time.Now()
		for _, e := range batch {
			u.endToEnd.Observe(now.Sub(e.OccurredAt).Seconds())
		}
		applied := last
		u.durable.after(func() {
			sess.MarkMessage(applied, "")
			next.Store(applied.Offset + 1)
		})
		batch, last, links = batch[:0], nil, links[:0]
		return nil
	}
	for {
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return u.finish(flush)
			}
			err := eventlog.DecodeEvents(msg.Value, func(e domain.Event, err error) error {
				if err != nil {
					u.skipped.Inc() // of a type this build does not know
					return nil
				}
				batch = append(batch, e)
				return nil
			})
			if err != nil {
				u.log.Error("skipping undecodable record", zap.Int32("partition", msg.Partition), zap.Int64("offset", msg.Offset), zap.Error(err))
				u.skipped.Inc()
			} else if sc := eventlog.TraceOf(sess.Context(), msg.Headers); sc.IsValid() && len(links) < maxLinks {
				links = append(links, trace.Link{SpanContext: sc})
			}
			if last == nil && u.cfg.BatchWait > 0 {
				timer.Reset(u.cfg.BatchWait)
			}
			last = msg
			if len(batch) >= u.cfg.BatchSize || u.cfg.BatchWait == 0 && len(claim.Messages()) == 0 {
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

// finish applies the batch in hand when the partition is revoked or the
// process stops, and makes it durable with those waiting, so that their
// offsets are marked before the session commits them; bounded so that
// shutdown cannot hang on the store.
func (u *Updater) finish(flush func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = flush(ctx)
	if err := u.durable.now(ctx); err != nil {
		u.log.Warn("read store sync failed at hand-over; the next owner applies these events again", zap.Error(err))
	}
	return nil
}
