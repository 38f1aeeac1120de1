package eventlog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"

	"github.com/falcon-chat/falcon/libs/domain"
)

// TxnLogConfig describes one partition's transactional log.
type TxnLogConfig struct {
	Kafka     Config
	Partition int32
	// TransactionalID is the partition's producer identity: a new producer
	// with the same id fences the old one.
	TransactionalID string
	// TxnTimeout bounds how long a dead writer's open transaction holds
	// read_committed readers back.
	TxnTimeout time.Duration
	// MaxBatch is the most records a transaction carries.
	MaxBatch int
	// Snapshots says whether the partition has a snapshots partition
	// (SnapshotsTopic) to read at load and write to.
	Snapshots bool
}

// TxnLog is one partition of the events topic (and of its snapshots topic)
// as its single writer uses it, on Kafka: a transactional producer whose id
// belongs to the partition, so that loading fences any earlier writer; every
// append one transaction; reads read_committed.
type TxnLog struct {
	cfg    TxnLogConfig
	client sarama.Client
	prod   sarama.SyncProducer
	// last is the checkpoint in force, if any (loaded or written): every
	// part of a round repeats it, so that a new owner finds it among the
	// last records however many parts a round takes.
	last *Checkpoint
}

// NewTxnLog returns the log of cfg.Partition; client is shared for reads.
// Nothing happens on the network until Load.
func NewTxnLog(cfg TxnLogConfig, client sarama.Client) *TxnLog {
	return &TxnLog{cfg: cfg, client: client}
}

// Loaded is what a new owner starts from: the latest snapshot of each
// thread, and the range of events to replay after them.
type Loaded struct {
	Snapshots []domain.Snapshot
	// From and End bound the events after the snapshots: Replay(From, End).
	From, End int64
	// SnapshotsErr says why the snapshots could not be used (From is then
	// 0: the whole partition is replayed).
	SnapshotsErr error
	// SnapshotsEnd is where the snapshots partition ended when loaded: the
	// next snapshot written begins at or after it.
	SnapshotsEnd int64
}

// checkpointWindow is how many records from the end of the snapshots
// partition are searched for the last checkpoint.
const checkpointWindow = 20000

// Load fences any earlier writer (a new transactional producer, then one
// aborted transaction, the seal), then reads the latest complete set of
// snapshots and those after it, up to the last checkpoint.
func (l *TxnLog) Load(ctx context.Context) (Loaded, error) {
	if l.prod != nil {
		_ = l.prod.Close()
		l.prod = nil
	}
	l.last = nil
	pc, err := l.producerConfig()
	if err != nil {
		return Loaded{}, err
	}
	prod, err := sarama.NewSyncProducer(l.cfg.Kafka.Brokers, pc)
	if err != nil {
		if isFenced(err) {
			return Loaded{}, fmt.Errorf("%w: %v", ErrFenced, err)
		}
		return Loaded{}, fmt.Errorf("transactional producer %s: %w", l.cfg.TransactionalID, err)
	}
	l.prod = prod
	if err := l.seal(); err != nil {
		return Loaded{}, err
	}
	topic, p := l.cfg.Kafka.Topic, l.cfg.Partition
	end, err := l.client.GetOffset(topic, p, sarama.OffsetNewest)
	if err != nil {
		return Loaded{}, fmt.Errorf("end offset of %s/%d: %w", topic, p, err)
	}
	out := Loaded{End: end}
	if !l.cfg.Snapshots {
		return out, nil
	}
	snaps, checkpoint, snapsEnd, err := l.loadSnapshots(ctx)
	out.SnapshotsEnd = snapsEnd
	switch {
	case err != nil && ctx.Err() != nil:
		return Loaded{}, ctx.Err()
	case err != nil:
		out.SnapshotsErr = err
	case checkpoint.NextOffset <= end:
		out.Snapshots, out.From = snaps, checkpoint.NextOffset
		if checkpoint != (Checkpoint{}) {
			l.last = &checkpoint
		}
	}
	return out, nil
}

// Replay calls fn for every committed event of the partition from offset
// from up to end, in order: those of types this build does not know too
// (with their envelope's fields, so versions stay contiguous). Records it
// cannot decode at all are passed to skip.
func (l *TxnLog) Replay(ctx context.Context, from, end int64, fn func(domain.Event), skip func(offset int64, err error)) error {
	topic, p := l.cfg.Kafka.Topic, l.cfg.Partition
	err := ReadCommitted(ctx, l.client, topic, p, from, end, func(r Record) error {
		err := DecodeEvents(r.Value, func(e domain.Event, _ error) error {
			fn(e)
			return nil
		})
		if err != nil {
			skip(r.Offset, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("replay %s/%d: %w", topic, p, err)
	}
	return nil
}

// seal writes one aborted transaction to the partition before the writer
// reads it. A broker that recovered from a crash with a transaction open may
// abort that transaction without writing an abort marker (kfake does); the
// consumers' read_committed filter then takes every later batch of the same
// producer id, ours, as aborted too. Our own abort marker closes that range.
//
// Apache Kafka does not need it: initialising the producer (fencing) makes
// the transaction coordinator abort the previous owner's open transaction
// with markers, which TestAbandonedTransactionIsAbortedByFencing checks on
// real Kafka. It is kept because the same build runs on kfake (falcon dev);
// on Kafka it costs one aborted record per partition per takeover.
//
// The records carry a key: the snapshots topic is compacted, and Kafka
// refuses keyless records there (kfake accepts them).
func (l *TxnLog) seal() error {
	key := sarama.StringEncoder(SealKey)
	msgs := []*sarama.ProducerMessage{{Topic: l.cfg.Kafka.Topic, Partition: l.cfg.Partition, Key: key}}
	if l.cfg.Snapshots {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: SnapshotsTopic(l.cfg.Kafka.Topic), Partition: l.cfg.Partition, Key: key})
	}
	err := l.prod.BeginTxn()
	if err == nil {
		err = l.prod.SendMessages(msgs)
	}
	if aerr := l.prod.AbortTxn(); err == nil {
		err = aerr
	}
	if isFenced(err) {
		return fmt.Errorf("%w: %v", ErrFenced, err)
	}
	if err != nil {
		return fmt.Errorf("seal %s/%d with an aborted transaction: %w", l.cfg.Kafka.Topic, l.cfg.Partition, err)
	}
	return nil
}

// producerConfig is the configuration of the partition's transactional
// producer. Each producer has its own client: the transactional id is part
// of the client's configuration.
func (l *TxnLog) producerConfig() (*sarama.Config, error) {
	c, err := l.cfg.Kafka.Sarama("falcon-write-api")
	if err != nil {
		return nil, err
	}
	c.Producer.Idempotent = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Return.Successes = true
	c.Producer.Partitioner = sarama.NewManualPartitioner
	c.Producer.Retry.Max = 5
	c.Producer.Retry.Backoff = 50 * time.Millisecond
	c.Producer.Flush.MaxMessages = max(l.cfg.MaxBatch, 1)
	c.Net.MaxOpenRequests = 1
	c.Producer.Transaction.ID = l.cfg.TransactionalID
	c.Producer.Transaction.Timeout = l.cfg.TxnTimeout
	return c, nil
}

// Appended is what a committed append says: where it ended and when its
// commit began.
type Appended struct {
	// Next is the events offset after the last event appended.
	Next int64
	// Committing is when the transaction's commit was asked for (EndTxn
	// sent): read_committed readers see the events only after it, so a
	// latency measured from it is never shorter than from the commit.
	Committing time.Time
}

// Append commits events in one transaction, each with its trace in the
// record headers. A fenced producer's error wraps ErrFenced; any other
// error means nothing was committed.
func (l *TxnLog) Append(ctx context.Context, events []Outgoing) (Appended, error) {
	if l.prod == nil {
		return Appended{}, errors.New("append before Load")
	}
	msgs, err := Records(ctx, l.cfg.Kafka.Topic, l.cfg.Partition, events)
	if err != nil {
		return Appended{}, err
	}
	var committing time.Time
	err = l.prod.BeginTxn()
	if err == nil {
		err = l.prod.SendMessages(msgs)
		if err == nil {
			committing = time.Now()
			err = l.prod.CommitTxn()
		}
	}
	if err != nil {
		return Appended{}, AbortTxn(l.prod, err)
	}
	return Appended{Next: msgs[len(msgs)-1].Offset + 1, Committing: committing}, nil
}

// Close closes the producer (the shared client stays open).
func (l *TxnLog) Close() error {
	if l.prod == nil {
		return nil
	}
	err := l.prod.Close()
	l.prod = nil
	return err
}

func isFenced(err error) bool {
	return errors.Is(err, sarama.ErrProducerFenced) || errors.Is(err, sarama.ErrInvalidProducerEpoch)
}
