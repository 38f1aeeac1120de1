package eventlog

import (
	"errors"
	"flag"
	"fmt"

	"github.com/IBM/sarama"
	gometrics "github.com/rcrowley/go-metrics"

	"github.com/falcon-chat/falcon/libs/flagenv"
)

// Config is a service's connection to the event log: the Kafka brokers and
// the events topic. Every service that talks to Kafka registers this one
// block, so the flags mean the same everywhere.
type Config struct {
	Brokers  flagenv.List
	Topic    string
	Security Security
	// Metrics, set by the program (ClientMetrics), collects the metrics of
	// every sarama client made from this block; nil: each client keeps its
	// own, unexported.
	Metrics gometrics.Registry
}

// DefaultTopic is the events topic unless --topic says otherwise.
const DefaultTopic = "falcon.thread-events"

// RegisterFlags adds --kafka-brokers and --topic to fs with their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Brokers = flagenv.List{"127.0.0.1:9092"}
	fs.Var(&c.Brokers, "kafka-brokers", "Kafka bootstrap brokers, comma-separated")
	fs.StringVar(&c.Topic, "topic", DefaultTopic, "thread events topic")
	c.Security.RegisterFlags(fs)
}

// Validate checks the block before anything connects.
func (c *Config) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("--kafka-brokers is required")
	case c.Topic == "":
		return errors.New("--topic is required")
	}
	return c.Security.Validate()
}

// Client connects a sarama client to the brokers.
func (c *Config) Client(clientID string) (sarama.Client, error) {
	sc, err := c.Sarama(clientID)
	if err != nil {
		return nil, err
	}
	client, err := sarama.NewClient(c.Brokers, sc)
	if err != nil {
		return nil, fmt.Errorf("connect to Kafka at %s: %w", c.Brokers.String(), err)
	}
	return client, nil
}

// Sarama is the sarama configuration of a client of this cluster, with its
// TLS and SASL settings (their files read now).
func (c *Config) Sarama(clientID string) (*sarama.Config, error) {
	sc := NewConfig(clientID)
	if c.Metrics != nil {
		sc.MetricRegistry = c.Metrics
	}
	if err := c.Security.apply(sc); err != nil {
		return nil, err
	}
	return sc, nil
}
