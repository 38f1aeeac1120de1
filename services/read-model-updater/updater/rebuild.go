package updater

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/IBM/sarama"
	"github.com/oklog/ulid/v2"
	"go.uber.org/zap"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/readmodel"
	"github.com/falcon-chat/falcon/libs/readstore"
)

// levelledWithin is how close to the end of the topic the new generation
// must get before the updaters are paused for the switch.
const levelledWithin = 1000

// Rebuild projects the whole events topic into the next generation of
// read-model tables while the current one keeps serving, then switches to
// it: it catches up with the topic, pauses the read-model-updaters (they
// hold their batches; read-apis keep answering from the current tables),
// applies what the updaters had applied, and makes the new generation
// current. The updaters resume on it and read-apis follow within
// readmodel.PollInterval. With dropOld the old tables are deleted after.
//
// It needs a store shared by processes (hbase+thrift://); on Pebble, stop
// the other processes first.
func Rebuild(ctx context.Context, cfg Config, store readstore.Store, log *zap.Logger, out io.Writer, dropOld bool) error {
	schema, ok := store.(readstore.Schema)
	if !ok {
		return errors.New("this store cannot create tables")
	}
	st, err := readmodel.LoadState(ctx, store)
	if err != nil {
		return fmt.Errorf("read-model generation: %w", err)
	}
	if st.Paused {
		return errors.New("the read-model-updaters are paused: another rebuild is running, or one was killed; if none runs, 'read-model-updater rebuild --abort' resumes them")
	}
	next := st.Current + 1
	for _, t := range readmodel.GenerationSpecs(next) {
		if err := schema.DropTable(ctx, t.Name); err != nil { // leftovers of an interrupted rebuild
			return err
		}
	}
	if err := schema.CreateTables(ctx, readmodel.GenerationSpecs(next)); err != nil {
		return err
	}
	fmt.Fprintf(out, "rebuilding generation %d into generation %d\n", st.Current, next)

	client, err := cfg.Kafka.Client("falcon-read-model-rebuild")
	if err != nil {
		return err
	}
	defer client.Close()
	partitions, err := client.Partitions(cfg.Kafka.Topic)
	if err != nil {
		return fmt.Errorf("partitions of %s: %w", cfg.Kafka.Topic, err)
	}
	r := &rebuilder{cfg: cfg, client: client, log: log, projector: readmodel.NewProjector(readmodel.AtGeneration(store, next)),
		pos: map[int32]int64{}, partitions: partitions}
	start := time.Now()
	for {
		behind, err := r.catchUp(ctx)
		if err != nil {
			return err
		}
		if behind < levelledWithin {
			break
		}
	}
	// The switch: hold the updaters, take what they applied, move over.
	pause := ulid.Make().String()
	if err := readmodel.StoreState(ctx, store, readmodel.State{Current: st.Current, Paused: true, PauseID: pause}); err != nil {
		return err
	}
	resumed := false
	defer func() {
		if !resumed {
			// Leave the current generation serving and the updaters running.
			_ = readmodel.StoreState(context.WithoutCancel(ctx), store, readmodel.State{Current: st.Current})
		}
	}()
	if err := waitForPause(ctx, store, pause, pauseAckTimeout); err != nil {
		return err
	}
	if _, err := r.catchUp(ctx); err != nil {
		return err
	}
	if err := readmodel.StoreState(ctx, store, readmodel.State{Current: next}); err != nil {
		return err
	}
	resumed = true
	fmt.Fprintf(out, "generation %d is current: %d events projected in %s\n", next, r.events, time.Since(start).Round(time.Millisecond))
	if dropOld {
		// Give read-apis time to move before their tables go.
		if err := eventlog.Sleep(ctx, 10*readmodel.PollInterval); err != nil {
			return err
		}
		for _, t := range readmodel.GenerationTables {
			if err := schema.DropTable(ctx, st.Current.Table(t)); err != nil {
				return err
			}
		}
		fmt.Fprintf(out, "generation %d dropped\n", st.Current)
	}
	return nil
}

// pauseAckTimeout bounds how long a rebuild waits for the updaters to
// acknowledge its pause before it gives up (and resumes them).
const pauseAckTimeout = 30 * time.Second

// waitForPause waits until every live updater (one that heartbeated within
// livenessWindow) has acknowledged the pause: none applies a batch after
// that, so what the rebuild reads next is all they wrote.
func waitForPause(ctx context.Context, store readstore.Store, pause string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ups, err := readmodel.Updaters(ctx, store)
		if err != nil {
			return fmt.Errorf("updaters' heartbeats: %w", err)
		}
		var pending []string
		for _, u := range ups {
			if time.Since(u.Seen) < livenessWindow && u.Ack != pause {
				pending = append(pending, u.ID)
			}
		}
		if len(pending) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("read-model-updaters %v did not acknowledge the pause within %s; the rebuild stops and they resume", pending, timeout)
		}
		if err := eventlog.Sleep(ctx, readmodel.PollInterval/5); err != nil {
			return err
		}
	}
}

type rebuilder struct {
	cfg        Config
	client     sarama.Client
	log        *zap.Logger
	projector  *readmodel.Projector
	partitions []int32
	pos        map[int32]int64
	events     int
}

// catchUp projects every partition from where it got to up to the end, and
// says how many offsets that was.
func (r *rebuilder) catchUp(ctx context.Context) (int64, error) {
	var total int64
	for _, p := range r.partitions {
		end, err := r.client.GetOffset(r.cfg.Kafka.Topic, p, sarama.OffsetNewest)
		if err != nil {
			return 0, fmt.Errorf("end of %s/%d: %w", r.cfg.Kafka.Topic, p, err)
		}
		from := r.pos[p]
		total += end - from
		var batch []domain.Event
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			if _, err := r.projector.Apply(ctx, batch); err != nil {
				return err
			}
			r.events += len(batch)
			batch = batch[:0]
			return nil
		}
		err = eventlog.ReadCommitted(ctx, r.client, r.cfg.Kafka.Topic, p, from, end, func(rec eventlog.Record) error {
			// Unknown or undecodable events are skipped, as the updaters do.
			_ = eventlog.DecodeEvents(rec.Value, func(e domain.Event, err error) error {
				if err == nil {
					batch = append(batch, e)
				}
				return nil
			})
			if len(batch) >= r.cfg.BatchSize {
				return flush()
			}
			return nil
		})
		if err == nil {
			err = flush()
		}
		if err != nil {
			return 0, fmt.Errorf("project %s/%d: %w", r.cfg.Kafka.Topic, p, err)
		}
		r.pos[p] = end
	}
	return total, nil
}

// AbortRebuild resumes the updaters after a rebuild that was killed while
// they were paused; the current generation stays current.
func AbortRebuild(ctx context.Context, store readstore.Store, out io.Writer) error {
	st, err := readmodel.LoadState(ctx, store)
	if err != nil {
		return err
	}
	if !st.Paused {
		fmt.Fprintf(out, "nothing to abort: generation %d is current and the updaters run\n", st.Current)
		return nil
	}
	if err := readmodel.StoreState(ctx, store, readmodel.State{Current: st.Current}); err != nil {
		return err
	}
	fmt.Fprintf(out, "updaters resumed on generation %d\n", st.Current)
	return nil
}
