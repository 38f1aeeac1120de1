package testenv

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/oklog/ulid/v2"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/snowflake"
)

// Produce writes events to the topic, each to its thread's partition, in
// the records write-api would make of them (a run of one thread's imported
// events shares a record); the topic must exist.
func Produce(t testing.TB, brokers, topic string, partitions int32, events []domain.Event) {
	t.Helper()
	cfg := eventlog.NewConfig("test-producer")
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	prod, err := sarama.NewSyncProducer([]string{brokers}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	byPartition := make([][]eventlog.Outgoing, partitions)
	for _, e := range events {
		p := eventlog.PartitionFor(e.ThreadID, partitions)
		byPartition[p] = append(byPartition[p], eventlog.Outgoing{Event: e})
	}
	for p, out := range byPartition {
		msgs, err := eventlog.Records(context.Background(), topic, int32(p), out)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs { // one at a time: in order whatever the retries
			if _, _, err := prod.SendMessage(m); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// History decides commands against threads and keeps the events, to build
// a topic's contents for a test.
type History struct {
	t       testing.TB
	threads map[string]*domain.Thread
	Events  []domain.Event
	// numbers makes the numeric ids, as a partition's writer would.
	numbers *snowflake.Generator
}

// NewHistory starts an empty history.
func NewHistory(t testing.TB) *History {
	numbers, err := snowflake.New(0)
	if err != nil {
		t.Fatal(err)
	}
	return &History{t: t, threads: map[string]*domain.Thread{}, numbers: numbers}
}

// Do applies cmd by actor to the thread (created on first use) and returns
// the result.
func (h *History) Do(threadID, actor string, cmd domain.Command) domain.Result {
	h.t.Helper()
	th := h.threads[threadID]
	if th == nil {
		th = domain.NewThread(threadID)
		h.threads[threadID] = th
	}
	now := time.Now()
	e, r, err := th.Decide(cmd, domain.Meta{ActorID: actor, EventID: ulid.Make().String(), NewMessageID: ulid.Make().String(),
		NewNumber: h.numbers.Next(now), Now: now})
	if err != nil {
		h.t.Fatalf("%s on %s: %v", cmd.Name(), threadID, err)
	}
	if e != nil {
		if err := th.Apply(*e); err != nil {
			h.t.Fatal(err)
		}
		h.Events = append(h.Events, *e)
	}
	return r
}

// ProduceThreads creates the topic with partitions and writes, for each of
// threads new threads, a ThreadCreated and n-1 MessagePosted events, as
// write-api would. It returns the events in the order written.
func ProduceThreads(t testing.TB, brokers, topic string, partitions int32, threads, n int) []domain.Event {
	t.Helper()
	CreateTopic(t, brokers, topic, partitions)
	h := NewHistory(t)
	for i := 0; i < threads; i++ {
		id := ulid.Make().String()
		h.Do(id, "alice", domain.CreateThread{Title: fmt.Sprint("thread ", i), MemberIDs: []string{"bob"}})
		for v := 1; v < n; v++ {
			h.Do(id, "alice", domain.PostMessage{Body: fmt.Sprint("message ", v)})
		}
	}
	Produce(t, brokers, topic, partitions, h.Events)
	return h.Events
}

// CreateTopic creates a topic of one replica with the given partitions, if
// it does not exist.
func CreateTopic(t testing.TB, brokers, topic string, partitions int32) {
	t.Helper()
	if _, err := eventlog.EnsureTopic(Context(t, 30*time.Second), []string{brokers}, eventlog.NewConfig("test"), topic,
		&sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
}

// WaitCommitted waits until group has committed, for every partition of
// topic, the offset after its last record: everything was handled and will
// not be read again by the group's next member.
func WaitCommitted(t testing.TB, brokers, group, topic string, within time.Duration) {
	t.Helper()
	client, err := sarama.NewClient([]string{brokers}, eventlog.NewConfig("test"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	Eventually(t, within, "group "+group+" to commit every record of "+topic, func() bool {
		partitions, err := client.Partitions(topic)
		if err != nil {
			return false
		}
		committed, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: partitions})
		if err != nil {
			return false
		}
		for _, p := range partitions {
			end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
			block := committed.GetBlock(topic, p)
			if err != nil || end > 0 && (block == nil || block.Offset < end) { // an empty partition has nothing to commit
				return false
			}
		}
		return true
	})
}

// EveryEventType is a thread's history with one event of every type, in an
// order the domain accepts: for tests of what encodes or delivers events.
func EveryEventType(t testing.TB) []domain.Event {
	t.Helper()
	h := NewHistory(t)
	tid := ulid.Make().String()
	title, remarks := "renamed", "notes"
	h.Do(tid, "alice", domain.CreateThread{Title: "t", Remarks: "r", MemberIDs: []string{"bob"}})
	h.Do(tid, "alice", domain.UpdateThread{Title: &title, Remarks: &remarks})
	h.Do(tid, "alice", domain.AddMembers{AccountIDs: []string{"carol"}})
	h.Do(tid, "alice", domain.AddAdministrators{AccountIDs: []string{"carol"}})
	h.Do(tid, "alice", domain.RemoveAdministrators{AccountIDs: []string{"carol"}})
	h.Do(tid, "alice", domain.RemoveMembers{AccountIDs: []string{"carol"}})
	msg := h.Do(tid, "bob", domain.PostMessage{Body: "hello", MentionAccountIDs: []string{"alice"}}).MessageID
	reply := h.Do(tid, "bob", domain.PostMessage{Body: "a reply", ReplyToMessageID: msg}).MessageID
	h.Do(tid, "bob", domain.EditMessage{MessageID: msg, Body: "hello!"})
	h.Do(tid, "alice", domain.MarkRead{MessageID: reply})
	h.Do(tid, "alice", domain.DeleteMessage{MessageID: msg})
	h.Do(tid, "alice", domain.DestroyThread{})
	return h.Events
}
