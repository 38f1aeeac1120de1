package testenv

import (
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/oklog/ulid/v2"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
)

// ProduceThreads creates the topic with partitions and writes, for each of
// threads new threads, a ThreadCreated and n-1 MessagePosted events, as
// write-api would. It returns the events in the order written.
func ProduceThreads(t testing.TB, brokers, topic string, partitions int32, threads, n int) []domain.Event {
	t.Helper()
	cfg := eventlog.NewConfig("test-producer")
	if err := eventlog.EnsureTopic(Context(t, 10*time.Second), []string{brokers}, cfg, topic, partitions, 1, nil); err != nil {
		t.Fatal(err)
	}
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	prod, err := sarama.NewSyncProducer([]string{brokers}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var events []domain.Event
	for i := 0; i < threads; i++ {
		th := domain.NewThread(ulid.Make().String())
		for v := 0; v < n; v++ {
			var cmd domain.Command = domain.PostMessage{Body: fmt.Sprint("message ", v)}
			if v == 0 {
				cmd = domain.CreateThread{Title: fmt.Sprint("thread ", i), MemberIDs: []string{"bob"}}
			}
			e, _, err := th.Decide(cmd, domain.Meta{ActorID: "alice", EventID: ulid.Make().String(), NewMessageID: ulid.Make().String(), Now: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			if err := th.Apply(*e); err != nil {
				t.Fatal(err)
			}
			b, err := eventlog.Encode(*e)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: eventlog.PartitionFor(e.ThreadID, partitions),
				Key: sarama.StringEncoder(e.ThreadID), Value: sarama.ByteEncoder(b)}); err != nil {
				t.Fatal(err)
			}
			events = append(events, *e)
		}
	}
	return events
}
