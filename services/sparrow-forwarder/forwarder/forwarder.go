// Package forwarder is sparrow-forwarder: it delivers every thread event to
// the legacy system over HTTP, in per-thread order with different threads in
// parallel, through retries and a circuit breaker; what the legacy system
// refuses for good goes to a dead-letter topic. A partition's offset is
// committed only up to the last of an unbroken run of delivered (or
// dead-lettered) events.
package forwarder

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/falcon-chat/falcon/libs/eventlog"
	falconlog "github.com/falcon-chat/falcon/libs/logging"
	"github.com/falcon-chat/falcon/libs/retry"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// Forwarder is the sparrow-forwarder component.
type Forwarder struct {
	cfg      Config
	log      *zap.Logger
	poster   *poster
	payloads *payloads
	metrics  *metrics
	tracer   trace.Tracer
	dead     *deadLetters
	status   *retry.Status
	joined   atomic.Bool
	// lag measures the partitions this replica delivers.
	lag *eventlog.LagMeter
}

// New returns a forwarder; it connects to Kafka in Run. Each delivery is a
// span of tp continuing the trace of the request that made the event, and
// the legacy system receives that trace (traceparent).
func New(cfg Config, log *zap.Logger, reg prometheus.Registerer, tp trace.TracerProvider) (*Forwarder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Kafka.Metrics == nil {
		cfg.Kafka.Metrics = eventlog.ClientMetrics(reg)
	}
	payloads, err := newPayloads()
	if err != nil {
		return nil, err
	}
	m := newMetrics(reg)
	f := &Forwarder{cfg: cfg, log: log.With(zap.String("component", "sparrow-forwarder")), metrics: m, payloads: payloads,
		tracer: tp.Tracer("github.com/falcon-chat/falcon/services/sparrow-forwarder"),
		lag:    eventlog.NewLagMeter(m.lag),
		status: retry.NewStatus(fmt.Errorf("not connected to Kafka at %s yet", cfg.Kafka.Brokers.String()))}
	f.poster = newPoster(cfg, f.metrics.breakerState, tp)
	if cfg.HMACSecret == "" {
		f.log.Warn("--hmac-secret is empty: deliveries are not signed")
	}
	return f, nil
}

// Ready is nil once the forwarder reached Kafka and joined its consumer
// group.
func (f *Forwarder) Ready() error {
	if err := f.status.Err(); err != nil {
		return err
	}
	if !f.joined.Load() {
		return errors.New("sparrow-forwarder has not joined its consumer group yet")
	}
	return nil
}

// connect creates the dead-letter topic if asked to, waits for the topics
// and opens the client and the dead-letter producer.
func (f *Forwarder) connect(ctx context.Context, dlqTopic string) (sarama.Client, sarama.SyncProducer, error) {
	brokers := f.cfg.Kafka.Brokers.String()
	kcfg, err := f.cfg.Kafka.Sarama("falcon-sparrow-forwarder")
	if err != nil {
		return nil, nil, err
	}
	if f.cfg.CreateTopics {
		if _, err := eventlog.EnsureTopic(ctx, f.cfg.Kafka.Brokers, kcfg, dlqTopic, eventlog.TopicLayout{Replication: 1}.DeadLettersTopic()); err != nil {
			return nil, nil, err
		}
	}
	client, err := sarama.NewClient(f.cfg.Kafka.Brokers, kcfg)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to Kafka at %s: %w", brokers, err)
	}
	f.status.Set(fmt.Errorf("waiting for topics %s and %s to exist on Kafka at %s", f.cfg.Kafka.Topic, dlqTopic, brokers))
	for _, t := range []string{f.cfg.Kafka.Topic, dlqTopic} {
		if _, err := eventlog.WaitForTopic(ctx, client, t); err != nil {
			client.Close()
			return nil, nil, err
		}
	}
	producer, err := deadLetterProducer(&f.cfg.Kafka)
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	return client, producer, nil
}

// Run connects to Kafka (retrying until it answers), then consumes and
// delivers until ctx ends.
func (f *Forwarder) Run(ctx context.Context) error {
	dlqTopic := f.cfg.deadLetterTopic()
	var client sarama.Client
	var producer sarama.SyncProducer
	if err := retry.Until(ctx, f.log, "connecting to Kafka at "+f.cfg.Kafka.Brokers.String(), retry.Default, f.status, func(ctx context.Context) (err error) {
		client, producer, err = f.connect(ctx, dlqTopic)
		return err
	}); err != nil {
		return nil // stopped before Kafka answered
	}
	defer client.Close()
	defer producer.Close()
	f.dead = newDeadLetters(dlqTopic, producer, f.log)

	// The held threads must be known before the first delivery.
	var tasks sync.WaitGroup
	defer tasks.Wait()
	followCtx, stopFollowing := context.WithCancel(ctx)
	defer stopFollowing()
	caughtUp := make(chan struct{})
	followErr := make(chan error, 1)
	tasks.Add(1)
	go func() {
		defer tasks.Done()
		followErr <- f.dead.follow(followCtx, &f.cfg.Kafka, caughtUp)
	}()
	select {
	case <-caughtUp:
	case err := <-followErr:
		return fmt.Errorf("reading dead letters: %w", err)
	case <-ctx.Done():
		return nil
	}
	f.log.Info("dead letters loaded", zap.Int("held_threads", f.dead.heldCount()))

	tasks.Add(1)
	go func() {
		defer tasks.Done()
		eventlog.MeasureLag(followCtx, f.cfg.Kafka, "falcon-sparrow-forwarder-lag", f.lag, f.log)
	}()

	group, err := sarama.NewConsumerGroupFromClient(f.cfg.Group, client)
	if err != nil {
		return fmt.Errorf("consumer group %s: %w", f.cfg.Group, err)
	}
	eventlog.Consume(ctx, group, f.cfg.Kafka.Topic, f, f.log)
	return group.Close()
}

// Setup implements sarama.ConsumerGroupHandler.
func (f *Forwarder) Setup(sess sarama.ConsumerGroupSession) error {
	f.joined.Store(true)
	f.log.Info("partitions assigned", zap.Int32s("partitions", sess.Claims()[f.cfg.Kafka.Topic]))
	return nil
}

// Cleanup implements sarama.ConsumerGroupHandler.
func (f *Forwarder) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// work is one event on its way through a partition's lanes.
type work struct {
	msg       *sarama.ConsumerMessage
	env       *falconv1.EventEnvelope
	body      []byte
	eventType string
}

// ConsumeClaim spreads a partition's events over lanes by thread, so one
// thread's events go through one lane in order while other threads proceed
// in parallel. A full lane stops the reading: back-pressure, not buffering.
func (f *Forwarder) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	ctx := sess.Context()
	p := claim.Partition()
	log := f.log.With(zap.Int32("partition", p))
	label := fmt.Sprint(p)
	outstanding := f.metrics.outstanding.WithLabelValues(label)
	// Another replica reports the partition once it is revoked from this one.
	defer f.metrics.outstanding.DeleteLabelValues(label)
	tr := newTracker(claim.InitialOffset(), func(next int64) { sess.MarkOffset(claim.Topic(), p, next, "") })
	f.lag.Own(p, tr.committed)
	defer f.lag.Release(p)

	lanes := make([]chan *work, f.cfg.Workers)
	var wg sync.WaitGroup
	for i := range lanes {
		lanes[i] = make(chan *work, max(1, f.cfg.MaxOutstanding/f.cfg.Workers))
		wg.Add(1)
		go func(in <-chan *work) {
			defer wg.Done()
			for w := range in {
				if ctx.Err() != nil {
					continue // stopping: left unmarked for the next owner
				}
				if err := f.handle(ctx, log, w); err != nil {
					if ctx.Err() == nil {
						log.Error("event neither delivered nor dead-lettered; it will be retried by the next owner",
							zap.Int64("offset", w.msg.Offset), zap.Error(err))
					}
					continue
				}
				tr.complete(w.msg.Offset)
				outstanding.Set(float64(tr.outstanding()))
			}
		}(lanes[i])
	}
	defer func() {
		for _, l := range lanes {
			close(l)
		}
		wg.Wait()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			tr.add(msg.Offset)
			w, ok := f.decode(log, msg)
			if !ok {
				tr.complete(msg.Offset)
				continue
			}
			select {
			case lanes[laneOf(w.env.GetThreadId(), len(lanes))] <- w:
				outstanding.Set(float64(tr.outstanding()))
			case <-ctx.Done():
				return nil
			}
		}
	}
}

func laneOf(threadID string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(threadID))
	return int(h.Sum32() % uint32(n))
}

func (f *Forwarder) decode(log *zap.Logger, msg *sarama.ConsumerMessage) (*work, bool) {
	var env falconv1.EventEnvelope
	if err := proto.Unmarshal(msg.Value, &env); err != nil {
		log.Error("skipping undecodable record", zap.Int64("offset", msg.Offset), zap.Error(err))
		f.metrics.skipped.Inc()
		return nil, false
	}
	if env.GetImported() {
		// Brought over from the legacy system: it has the event already.
		// A run of imported events is one record of them all.
		f.metrics.imported.Add(float64(max(len(env.GetImportedRun().GetEvents()), 1)))
		return nil, false
	}
	body, eventType, known := f.payloads.Payload(&env)
	if !known {
		log.Error("skipping an event of a type this build does not know: it is not delivered",
			zap.Int64("offset", msg.Offset), zap.String("event_id", env.GetEventId()))
		f.metrics.skipped.Inc()
		return nil, false
	}
	return &work{msg: msg, env: &env, body: body, eventType: eventType}, true
}

// handle delivers one event, or dead-letters it: when its thread is held,
// when the legacy system rejects it for good, or after --max-attempts
// failures. It returns an error only when it did neither (ctx ended, or the
// dead-letter topic could not be written).
func (f *Forwarder) handle(ctx context.Context, log *zap.Logger, w *work) (err error) {
	ctx, span := f.tracer.Start(trace.ContextWithRemoteSpanContext(ctx, eventlog.TraceOf(ctx, w.msg.Headers)), "deliver "+w.eventType,
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
			attribute.String("falcon.event_id", w.env.GetEventId()),
			attribute.String("falcon.thread_id", w.env.GetThreadId()),
			attribute.String("falcon.correlation_id", w.env.GetCorrelationId()),
			attribute.Int("messaging.destination.partition.id", int(w.msg.Partition)),
			attribute.Int64("messaging.kafka.offset", w.msg.Offset)))
	defer func() {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	// Its log lines name the event's trace and correlation id; the logger
	// is made only for a line, not for every delivery.
	eventLog := func() *zap.Logger {
		return falconlog.For(ctx, log.With(zap.String("correlation_id", w.env.GetCorrelationId())))
	}
	threadID := w.env.GetThreadId()
	if f.cfg.DeadLetterPolicy == PolicyHold && f.dead.isHeld(threadID) {
		return f.deadLetter(ctx, eventLog(), w, "held", "held: an earlier event of this thread is dead-lettered", 0, 0)
	}
	d := Delivery{EventID: w.env.GetEventId(), Body: w.body}
	attempts := 0
	for {
		a := f.poster.try(ctx, d)
		switch a.outcome {
		case delivered:
			f.metrics.delivered.WithLabelValues(w.eventType).Inc()
			f.metrics.endToEnd.Observe(time.Since(w.env.GetOccurredAt().AsTime()).Seconds())
			return nil
		case rejected:
			return f.deadLetter(ctx, eventLog(), w, "rejected", a.err.Error(), a.status, attempts+1)
		case failed:
			attempts++
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if f.cfg.MaxAttempts > 0 && attempts >= f.cfg.MaxAttempts {
			return f.deadLetter(ctx, eventLog(), w, "exhausted", a.err.Error(), a.status, attempts)
		}
		f.metrics.retried.Inc()
		wait := max(f.poster.backoff.delay(max(attempts, 1)), a.retryAfter)
		if a.outcome == notAttempted {
			// The breaker probes for us; check back a few times per open period.
			wait = f.cfg.BreakerOpenFor/4 + f.poster.backoff.delay(1)
		}
		if a.outcome == failed {
			eventLog().Warn("delivery failed; retrying", zap.String("event_id", d.EventID), zap.String("event_type", w.eventType),
				zap.Int("attempt", attempts), zap.Duration("wait", wait), zap.Error(a.err))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// deadLetterBackoff spaces the attempts at writing a dead letter.
var deadLetterBackoff = retry.Backoff{Base: 200 * time.Millisecond, Max: time.Second}

func (f *Forwarder) deadLetter(ctx context.Context, log *zap.Logger, w *work, reason, detail string, status, attempts int) error {
	dl := DeadLetter{
		Kind: KindDeadLetter, ThreadID: w.env.GetThreadId(), EventID: w.env.GetEventId(), EventType: w.eventType,
		Version: w.env.GetVersion(), Reason: detail, Status: status, Attempts: attempts, At: time.Now().UTC(),
		SourceTopic: w.msg.Topic, SourcePartition: w.msg.Partition, SourceOffset: w.msg.Offset, Envelope: w.msg.Value,
	}
	for try := 1; ; try++ {
		off, err := f.dead.write(dl)
		if err == nil {
			f.metrics.deadLettered.WithLabelValues(reason).Inc()
			log.Warn("event dead-lettered", zap.String("event_id", dl.EventID), zap.String("thread_id", dl.ThreadID),
				zap.String("reason", detail), zap.Int64("dead_letter_offset", off))
			return nil
		}
		if try >= 5 {
			return err
		}
		if serr := eventlog.Sleep(ctx, deadLetterBackoff.Delay(try)); serr != nil {
			return err
		}
	}
}
