package forwarder

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/tracing"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// ReplayAttempts bounds the attempts replay-dlq makes per dead letter.
const ReplayAttempts = 5

type pending struct {
	offset int64
	dl     DeadLetter
}

// ReplayDeadLetters redelivers every dead letter not yet released, thread by
// thread and in order, then writes a release record for each thread it
// delivered completely; a running forwarder then stops holding that thread.
// A thread whose dead letter is refused again stays held, and the replay
// goes on with the next thread. It reports what it did to out.
func ReplayDeadLetters(ctx context.Context, cfg Config, log *zap.Logger, out io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	topic := cfg.deadLetterTopic()
	client, err := cfg.Kafka.Client("falcon-replay-dlq")
	if err != nil {
		return err
	}
	defer client.Close()
	end, err := client.GetOffset(topic, 0, sarama.OffsetNewest)
	if err != nil {
		return fmt.Errorf("end of %s: %w", topic, err)
	}
	var order []string
	byThread := map[string][]pending{}
	err = eventlog.ReadCommitted(ctx, client, topic, 0, 0, end, func(r eventlog.Record) error {
		var dl DeadLetter
		if err := json.Unmarshal(r.Value, &dl); err != nil {
			log.Error("skipping unreadable dead-letter record", zap.Int64("offset", r.Offset), zap.Error(err))
			return nil
		}
		switch dl.Kind {
		case KindDeadLetter:
			if _, seen := byThread[dl.ThreadID]; !seen {
				order = append(order, dl.ThreadID)
			}
			byThread[dl.ThreadID] = append(byThread[dl.ThreadID], pending{offset: r.Offset, dl: dl})
		case KindRelease:
			kept := byThread[dl.ThreadID][:0]
			for _, p := range byThread[dl.ThreadID] {
				if p.offset > dl.UpToOffset {
					kept = append(kept, p)
				}
			}
			byThread[dl.ThreadID] = kept
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", topic, err)
	}
	producer, err := deadLetterProducer(&cfg.Kafka)
	if err != nil {
		return err
	}
	defer producer.Close()
	dead := newDeadLetters(topic, producer, log)
	p := newPoster(cfg, nil, tracing.Off().Provider)
	payloads, err := newPayloads()
	if err != nil {
		return err
	}

	var failedThreads int
	for _, tid := range order {
		entries := byThread[tid]
		if len(entries) == 0 {
			continue
		}
		delivered, err := replayThread(ctx, p, payloads, entries)
		if err != nil {
			failedThreads++
			fmt.Fprintf(out, "thread %s: %d of %d dead letters delivered, then: %v; still held\n", tid, delivered, len(entries), err)
			continue
		}
		last := entries[len(entries)-1].offset
		if _, err := dead.write(DeadLetter{Kind: KindRelease, ThreadID: tid, UpToOffset: last, At: time.Now().UTC()}); err != nil {
			return err
		}
		fmt.Fprintf(out, "thread %s: %d dead letters delivered; released\n", tid, delivered)
	}
	if failedThreads > 0 {
		return fmt.Errorf("%d threads still have dead letters the legacy system refuses", failedThreads)
	}
	return nil
}

func replayThread(ctx context.Context, p *poster, payloads *payloads, entries []pending) (int, error) {
	for i, e := range entries {
		var env falconv1.EventEnvelope
		if err := proto.Unmarshal(e.dl.Envelope, &env); err != nil {
			return i, fmt.Errorf("dead letter at offset %d has no readable event: %w", e.offset, err)
		}
		body, _, known := payloads.Payload(&env)
		if !known {
			return i, fmt.Errorf("dead letter at offset %d: event type unknown to this build", e.offset)
		}
		if err := deliverBounded(ctx, p, Delivery{EventID: env.GetEventId(), Body: body}); err != nil {
			return i, fmt.Errorf("event %s (%s): %w", env.GetEventId(), e.dl.EventType, err)
		}
	}
	return len(entries), nil
}

func deliverBounded(ctx context.Context, p *poster, d Delivery) error {
	var last attempt
	for n := 1; n <= ReplayAttempts; n++ {
		last = p.try(ctx, d)
		switch last.outcome {
		case delivered:
			return nil
		case rejected:
			return last.err
		}
		t := time.NewTimer(max(p.backoff.delay(n), last.retryAfter))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	return fmt.Errorf("%d attempts failed, last: %w", ReplayAttempts, last.err)
}
