package setup_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/setup"
	"github.com/falcon-chat/falcon/libs/testenv"
)

func TestCreatesFalconsTopicsOnce(t *testing.T) {
	brokers, topic := testenv.Kafka(t), testenv.Name(t, "events")
	cfg := setup.TopicsConfig{Kafka: eventlog.Config{Brokers: []string{brokers}, Topic: topic}, Partitions: 3, Replication: 1, MinInsync: 1, Timeout: time.Minute}
	var first, second bytes.Buffer
	if err := setup.Topics(context.Background(), cfg, testenv.Logger(t), &first); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(first.String(), "3 created") {
		t.Fatalf("first run:\n%s", first.String())
	}
	if err := setup.Topics(context.Background(), cfg, testenv.Logger(t), &second); err != nil || !strings.Contains(second.String(), "0 created, 3 already there") {
		t.Fatalf("second run: %v\n%s", err, second.String())
	}
	admin, err := sarama.NewClusterAdmin([]string{brokers}, eventlog.NewConfig("test"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	want := map[string]struct {
		partitions int
		config     string
	}{
		topic:                            {3, "retention.ms=-1"},
		eventlog.SnapshotsTopic(topic):   {3, "cleanup.policy=compact"},
		eventlog.DeadLettersTopic(topic): {1, "retention.ms=-1"},
	}
	for name, w := range want {
		meta, err := admin.DescribeTopics([]string{name})
		if err != nil || len(meta) != 1 || !errors.Is(meta[0].Err, sarama.ErrNoError) || len(meta[0].Partitions) != w.partitions {
			t.Fatalf("topic %s: %+v, %v; want %d partitions", name, meta, err, w.partitions)
		}
		key, value, _ := strings.Cut(w.config, "=")
		res, err := admin.DescribeConfigs([]*sarama.ConfigResource{{Type: sarama.TopicResource, Name: name, ConfigNames: []string{key}}}, sarama.DescribeConfigsOptions{})
		if err != nil || len(res) != 1 || len(res[0].Configs) != 1 || res[0].Configs[0].Value != value {
			t.Fatalf("topic %s %s: %+v, %v; want %s", name, key, res, err, value)
		}
	}
}

func TestTopicsConfigRefusesWhatKafkaWould(t *testing.T) {
	base := setup.TopicsConfig{Kafka: eventlog.Config{Brokers: []string{"k:9092"}, Topic: "t"}, Partitions: 12, Replication: 3, MinInsync: 2}
	cases := []struct {
		name string
		edit func(*setup.TopicsConfig)
		want string
	}{
		{"no partitions", func(c *setup.TopicsConfig) { c.Partitions = 0 }, "--partitions"},
		{"no replicas", func(c *setup.TopicsConfig) { c.Replication = 0 }, "--replication-factor"},
		{"min ISR above replicas", func(c *setup.TopicsConfig) { c.MinInsync = 4 }, "--min-insync-replicas"},
		{"no brokers", func(c *setup.TopicsConfig) { c.Kafka.Brokers = nil }, "--kafka-brokers"},
	}
	for _, c := range cases {
		cfg := base
		c.edit(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.want)
		}
	}
}
