package eventlog_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/testenv"
)

// These tests pin down what Falcon's single-writer guarantee stands on, on
// whichever broker the run targets (kfake, or real Kafka under make
// test-real): where the two differ, both must end the same way.

func newTopic(t *testing.T, brokers string) string {
	t.Helper()
	topic := testenv.Name(t, "txn")
	testenv.CreateTopic(t, brokers, topic, 1)
	return topic
}

func txnProducer(t *testing.T, brokers, id string, timeout time.Duration) sarama.SyncProducer {
	t.Helper()
	pc := eventlog.NewConfig("test-txn")
	pc.Producer.Idempotent = true
	pc.Producer.RequiredAcks = sarama.WaitForAll
	pc.Producer.Return.Successes = true
	pc.Producer.Partitioner = sarama.NewManualPartitioner
	pc.Net.MaxOpenRequests = 1
	pc.Producer.Transaction.ID = id
	if timeout > 0 {
		pc.Producer.Transaction.Timeout = timeout
	}
	p, err := sarama.NewSyncProducer([]string{brokers}, pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func send(t *testing.T, p sarama.SyncProducer, topic string, values ...string) error {
	t.Helper()
	for _, v := range values {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder("k"), Value: sarama.StringEncoder(v)}); err != nil {
			return err
		}
	}
	return nil
}

func commit(t *testing.T, p sarama.SyncProducer, topic string, values ...string) {
	t.Helper()
	if err := p.BeginTxn(); err != nil {
		t.Fatal(err)
	}
	if err := send(t, p, topic, values...); err != nil {
		t.Fatal(err)
	}
	if err := p.CommitTxn(); err != nil {
		t.Fatal(err)
	}
}

// committed reads the partition read_committed up to its end.
func committed(ctx context.Context, t *testing.T, brokers, topic string) []string {
	t.Helper()
	client, err := sarama.NewClient([]string{brokers}, eventlog.NewConfig("test"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	end, err := client.GetOffset(topic, 0, sarama.OffsetNewest)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := eventlog.ReadCommitted(ctx, client, topic, 0, 0, end, func(r eventlog.Record) error {
		got = append(got, string(r.Value))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestFencedProducerKnowsItWasFenced: once a new producer with the same
// transactional id starts, the old one's sends and commit fail, and
// AbortTxn classifies the failure as fenced (Kafka says so with error 47
// then 90, kfake with 48 then 90); nothing the old one sent is visible.
func TestFencedProducerKnowsItWasFenced(t *testing.T) {
	brokers := testenv.Kafka(t)
	topic := newTopic(t, brokers)
	id := testenv.Name(t, "writer")
	old := txnProducer(t, brokers, id, 0)
	if err := old.BeginTxn(); err != nil {
		t.Fatal(err)
	}
	if err := send(t, old, topic, "old-1"); err != nil {
		t.Fatal(err)
	}
	newer := txnProducer(t, brokers, id, 0)
	err := send(t, old, topic, "old-2")
	if err == nil {
		err = old.CommitTxn()
	}
	if err == nil {
		t.Fatal("the fenced producer committed")
	}
	if got := eventlog.AbortTxn(old, err); !errors.Is(got, eventlog.ErrFenced) {
		t.Fatalf("AbortTxn after %v = %v, want ErrFenced", err, got)
	}
	commit(t, newer, topic, "new")
	if got := committed(testenv.Context(t, 30*time.Second), t, brokers, topic); !reflect.DeepEqual(got, []string{"new"}) {
		t.Fatalf("read_committed sees %q, want only the new owner's record", got)
	}
}

// TestAbandonedTransactionIsAbortedByFencing: a writer that dies with a
// transaction open (no abort, no close) holds back read_committed readers
// only until the next owner initialises the same transactional id, which
// aborts it with markers. On Kafka this is why write-api's takeover seal is
// redundant there.
func TestAbandonedTransactionIsAbortedByFencing(t *testing.T) {
	brokers := testenv.Kafka(t)
	topic := newTopic(t, brokers)
	id := testenv.Name(t, "writer")
	commit(t, txnProducer(t, brokers, id, 0), topic, "first")
	dead := txnProducer(t, brokers, id, time.Minute)
	if err := dead.BeginTxn(); err != nil {
		t.Fatal(err)
	}
	if err := send(t, dead, topic, "never-committed"); err != nil {
		t.Fatal(err)
	}
	next := txnProducer(t, brokers, id, 0)
	commit(t, next, topic, "after-takeover")
	// Well inside the dead one's minute-long timeout: only fencing can have
	// ended its transaction.
	if got := committed(testenv.Context(t, 20*time.Second), t, brokers, topic); !reflect.DeepEqual(got, []string{"first", "after-takeover"}) {
		t.Fatalf("read_committed sees %q", got)
	}
}

// TestTransactionTimeoutReleasesReaders: a writer that dies with a
// transaction open and has no successor holds read_committed readers back
// until its transaction timeout (plus the broker's abort sweep, 10 s on
// Kafka by default), never forever: why write-api's --txn-timeout is short.
func TestTransactionTimeoutReleasesReaders(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a transaction timeout")
	}
	brokers := testenv.Kafka(t)
	topic := newTopic(t, brokers)
	dead := txnProducer(t, brokers, testenv.Name(t, "dead"), 2*time.Second)
	if err := dead.BeginTxn(); err != nil {
		t.Fatal(err)
	}
	if err := send(t, dead, topic, "never-committed"); err != nil {
		t.Fatal(err)
	}
	commit(t, txnProducer(t, brokers, testenv.Name(t, "other"), 0), topic, "other")
	start := time.Now()
	got := committed(testenv.Context(t, 60*time.Second), t, brokers, topic)
	if !reflect.DeepEqual(got, []string{"other"}) {
		t.Fatalf("read_committed sees %q", got)
	}
	t.Logf("the dead transaction held readers back for %s", time.Since(start).Round(100*time.Millisecond))
}
