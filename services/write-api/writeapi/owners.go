package writeapi

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"

	"github.com/falcon-chat/falcon/libs/eventlog"
)

// owners tracks which partitions this replica owns, through consumer-group
// membership, and runs a writer for each.
type owners struct {
	cfg     *Config
	log     *zap.Logger
	metrics *metrics
	router  Router
	// logOf opens the log of a partition for its writer.
	logOf func(p int32) PartitionLog

	// stopping closes when run ends: writers stop, pending rechecks end.
	stopping chan struct{}
	wg       sync.WaitGroup
	mu       sync.RWMutex
	writers  map[int32]*writerHandle
	// sess and claimed are the current group session and its partitions;
	// nil between sessions.
	sess    sarama.ConsumerGroupSession
	claimed map[int32]bool
	joined  atomic.Bool
	// pauser stops the group's fetches of a claimed partition (run sets
	// it to the group).
	pauser pauser
}

// pauser is the part of a sarama.ConsumerGroup that stops fetching
// partitions.
type pauser interface {
	Pause(partitions map[string][]int32)
}

type writerHandle struct {
	w      *writer
	cancel context.CancelFunc
}

func newOwners(cfg *Config, log *zap.Logger, m *metrics, r Router, logOf func(p int32) PartitionLog) *owners {
	return &owners{cfg: cfg, log: log, metrics: m, router: r, logOf: logOf,
		stopping: make(chan struct{}), writers: map[int32]*writerHandle{}}
}

// groupConfig advertises this replica's gRPC address in its member metadata,
// so others can forward commands to it.
func (o *owners) groupConfig() (*sarama.Config, error) {
	c, err := o.cfg.Kafka.Sarama("falcon-write-api")
	if err != nil {
		return nil, err
	}
	c.Consumer.Group.Member.UserData = []byte(o.cfg.advertise())
	// Ownership needs no history from the claim: writers replay on their own.
	c.Consumer.Offsets.Initial = sarama.OffsetNewest
	return c, nil
}

// run joins the group and keeps ownership in step with it until ctx ends;
// then it stops every writer, answering their queued commands.
func (o *owners) run(ctx context.Context) error {
	gc, err := o.groupConfig()
	var group sarama.ConsumerGroup
	if err == nil {
		group, err = sarama.NewConsumerGroup(o.cfg.Kafka.Brokers, o.cfg.Group, gc)
	}
	if err != nil {
		close(o.stopping)
		return fmt.Errorf("join write-api group %s: %w", o.cfg.Group, err)
	}
	o.pauser = group
	eventlog.Consume(ctx, group, o.cfg.Kafka.Topic, o, o.log)
	o.joined.Store(false)
	close(o.stopping)
	o.stopAll()
	return group.Close()
}

// Setup starts writers for newly claimed partitions and stops those for
// partitions no longer ours. Writers that keep their partition across a
// rebalance keep their state: if someone else wrote meanwhile, they were
// fenced and reload.
func (o *owners) Setup(sess sarama.ConsumerGroupSession) error {
	claimed := sess.Claims()[o.cfg.Kafka.Topic]
	o.metrics.rebalances.Inc()
	o.mu.Lock()
	o.sess, o.claimed = sess, map[int32]bool{}
	for _, p := range claimed {
		o.claimed[p] = true
	}
	o.mu.Unlock()
	o.reconcile(claimed)
	o.joined.Store(true)
	o.router.Invalidate()
	o.log.Info("partitions assigned", zap.Int32s("partitions", claimed), zap.Int32("generation", sess.GenerationID()))
	return nil
}

// Cleanup forgets the session that ended.
func (o *owners) Cleanup(sarama.ConsumerGroupSession) error {
	o.mu.Lock()
	o.sess, o.claimed = nil, nil
	o.mu.Unlock()
	return nil
}

// fencedRecheck is how long after a writer was fenced the replica looks
// again at its group session: longer than a heartbeat interval, so that a
// replica that was paused and dropped from the group (a zombie) has learnt
// it by then.
const fencedRecheck = 3 * time.Second

// restartIfStillOwned runs when a writer was fenced. A replica that was
// paused may be given a partition back while the writer it kept from before
// was fenced by the owner in between; if, after fencedRecheck, the current
// session still claims the partition, the replica is its owner and starts a
// new writer (which fences in turn). Otherwise the next session decides.
func (o *owners) restartIfStillOwned(p int32, lost *writerHandle) {
	t := time.NewTimer(fencedRecheck)
	defer t.Stop()
	select {
	case <-o.stopping:
		return
	case <-t.C:
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	select {
	case <-o.stopping:
		return
	default:
	}
	if o.sess == nil || o.sess.Context().Err() != nil || !o.claimed[p] || o.writers[p] != lost {
		return
	}
	o.log.Info("partition still ours after being fenced: loading it again", zap.Int32("partition", p))
	o.startLocked(p)
}

// ConsumeClaim pauses the claim and drains what it fetched before: the
// claim is how the group tells us we own the partition, not how we read it
// (the writer reads its own log). Unpaused, the claim fetched every record
// the writer appended back from the broker, only to drop it: during a bulk
// import, a tenth of the broker's CPU and a few percent of write-api's.
// Sarama keeps a partition paused when it is claimed again.
func (o *owners) ConsumeClaim(_ sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	o.pauser.Pause(map[string][]int32{claim.Topic(): {claim.Partition()}})
	for range claim.Messages() {
	}
	return nil
}

func (o *owners) reconcile(claimed []int32) {
	want := map[int32]bool{}
	for _, p := range claimed {
		want[p] = true
	}
	o.mu.Lock()
	var stopping []*writerHandle
	for p, h := range o.writers {
		if !want[p] {
			stopping = append(stopping, h)
			delete(o.writers, p)
		}
	}
	for p := range want {
		if h, ok := o.writers[p]; ok && !h.w.lost.Load() {
			continue
		}
		o.startLocked(p)
	}
	o.metrics.owned.Set(float64(len(o.writers)))
	o.mu.Unlock()
	for _, h := range stopping {
		h.cancel()
		<-h.w.done
	}
}

func (o *owners) stopAll() {
	o.mu.Lock()
	for p, h := range o.writers {
		h.cancel()
		delete(o.writers, p)
	}
	o.metrics.owned.Set(0)
	o.mu.Unlock()
	o.wg.Wait()
}

// Local returns the writer of a partition this replica owns, or nil.
func (o *owners) Local(p int32) *writer {
	o.mu.RLock()
	defer o.mu.RUnlock()
	h, ok := o.writers[p]
	if !ok || h.w.lost.Load() {
		return nil
	}
	return h.w
}

// ready is nil once the replica is in the group and every owned partition
// is loaded.
func (o *owners) ready() error {
	if !o.joined.Load() {
		return errors.New("not yet a member of the write-api consumer group")
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	for p, h := range o.writers {
		if !h.w.ready.Load() {
			return fmt.Errorf("partition %d is still loading", p)
		}
	}
	return nil
}

// startLocked starts the writer of partition p; o.mu is held. Writers stop
// through their handle's cancel (a rebalance, or run ending).
func (o *owners) startLocked(p int32) {
	wctx, cancel := context.WithCancel(context.Background())
	w := newWriter(p, writerConfig{MaxBatch: o.cfg.MaxBatch, SnapshotEvery: o.cfg.SnapshotEvery}, o.log, o.logOf(p), o.metrics)
	h := &writerHandle{w: w, cancel: cancel}
	o.writers[p] = h
	o.wg.Add(2)
	go func() {
		defer o.wg.Done()
		w.run(wctx)
	}()
	go func() {
		defer o.wg.Done()
		<-w.done
		if w.lost.Load() {
			o.restartIfStillOwned(p, h)
		}
	}()
}
