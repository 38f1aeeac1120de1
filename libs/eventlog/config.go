package eventlog

import (
	"errors"
	"flag"

	"github.com/IBM/sarama"

	"github.com/falcon-chat/falcon/libs/flagenv"
)

// Config is a service's connection to the event log: the Kafka brokers and
// the events topic. Every service that talks to Kafka registers this one
// block, so the flags mean the same everywhere.
type Config struct {
	Brokers flagenv.List
	Topic   string
}

// DefaultTopic is the events topic unless --topic says otherwise.
const DefaultTopic = "falcon.thread-events"

// RegisterFlags adds --kafka-brokers and --topic to fs with their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Brokers = flagenv.List{"127.0.0.1:9092"}
	fs.Var(&c.Brokers, "kafka-brokers", "Kafka bootstrap brokers, comma-separated")
	fs.StringVar(&c.Topic, "topic", DefaultTopic, "thread events topic")
}

// Validate checks the block before anything connects.
func (c *Config) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("--kafka-brokers is required")
	case c.Topic == "":
		return errors.New("--topic is required")
	}
	return nil
}

// Sarama is the sarama configuration of a client of this cluster.
func (c *Config) Sarama(clientID string) *sarama.Config { return NewConfig(clientID) }
