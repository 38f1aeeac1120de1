package forwarder

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"time"

	"github.com/falcon-chat/falcon/libs/eventlog"
)

// Dead-letter policies: what happens to a thread's later events once one of
// its events was dead-lettered.
const (
	// PolicyHold dead-letters them too, so the legacy side never sees a
	// thread out of order; replay-dlq delivers them all, in order.
	PolicyHold = "hold"
	// PolicyContinue delivers them: a gap in the thread instead of a stop.
	PolicyContinue = "continue"
)

// Config is sparrow-forwarder's configuration block.
type Config struct {
	Kafka            eventlog.Config
	Group            string
	DeadLetterTopic  string
	CreateTopics     bool
	LegacyURL        string
	HMACSecret       string
	HTTPAddr         string
	Timeout          time.Duration
	BackoffBase      time.Duration
	BackoffMax       time.Duration
	MaxAttempts      int
	DeadLetterPolicy string
	Workers          int
	MaxOutstanding   int
	BreakerFailures  int
	BreakerOpenFor   time.Duration
}

// RegisterFlags adds sparrow-forwarder's flags to fs with their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Kafka.RegisterFlags(fs)
	fs.StringVar(&c.Group, "group", "falcon-sparrow-forwarder", "consumer group")
	fs.StringVar(&c.DeadLetterTopic, "dead-letter-topic", "", "dead-letter topic (default: <topic>.dead-letters)")
	fs.BoolVar(&c.CreateTopics, "create-topics", true, "create the dead-letter topic if it does not exist")
	fs.StringVar(&c.LegacyURL, "legacy-url", "http://127.0.0.1:8090/events", "legacy system endpoint events are POSTed to")
	fs.StringVar(&c.HMACSecret, "hmac-secret", "", "shared secret signing each delivery (HMAC-SHA256); empty: unsigned")
	fs.StringVar(&c.HTTPAddr, "http-addr", "127.0.0.1:8084", "HTTP listen address (health, metrics)")
	fs.DurationVar(&c.Timeout, "legacy-timeout", 5*time.Second, "timeout of one delivery attempt")
	fs.DurationVar(&c.BackoffBase, "backoff-base", 100*time.Millisecond, "first retry delay (doubles per attempt, with full jitter)")
	fs.DurationVar(&c.BackoffMax, "backoff-max", 10*time.Second, "longest retry delay")
	fs.IntVar(&c.MaxAttempts, "max-attempts", 0, "failed attempts (5xx, timeouts, connection errors) before an event is dead-lettered; 0: never, retry until delivered")
	fs.StringVar(&c.DeadLetterPolicy, "dead-letter-policy", PolicyHold, "a dead-lettered thread's later events: hold (dead-letter them too, keeping order) or continue (deliver them)")
	fs.IntVar(&c.Workers, "workers", 8, "deliveries in flight per partition (threads are spread over them; one thread's events stay in order)")
	fs.IntVar(&c.MaxOutstanding, "max-outstanding", 1024, "events read but not yet delivered, per partition, before consumption pauses")
	fs.IntVar(&c.BreakerFailures, "breaker-failures", 5, "consecutive failed attempts that open the circuit breaker")
	fs.DurationVar(&c.BreakerOpenFor, "breaker-open-for", 5*time.Second, "how long the breaker stays open before a probe")
}

// Validate checks the configuration before anything starts.
func (c *Config) Validate() error {
	if err := c.Kafka.Validate(); err != nil {
		return err
	}
	u, err := url.Parse(c.LegacyURL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("--legacy-url=%q: want an http(s) URL", c.LegacyURL)
	case c.Timeout <= 0 || c.BackoffBase <= 0 || c.BackoffMax < c.BackoffBase:
		return errors.New("--legacy-timeout and --backoff-base must be positive, --backoff-max at least --backoff-base")
	case c.MaxAttempts < 0:
		return errors.New("--max-attempts must not be negative")
	case c.DeadLetterPolicy != PolicyHold && c.DeadLetterPolicy != PolicyContinue:
		return fmt.Errorf("--dead-letter-policy=%q: want hold or continue", c.DeadLetterPolicy)
	case c.Workers < 1 || c.MaxOutstanding < c.Workers:
		return errors.New("--workers must be at least 1 and --max-outstanding at least --workers")
	case c.BreakerFailures < 1 || c.BreakerOpenFor <= 0:
		return errors.New("--breaker-failures must be at least 1 and --breaker-open-for positive")
	}
	return nil
}

func (c *Config) deadLetterTopic() string {
	if c.DeadLetterTopic != "" {
		return c.DeadLetterTopic
	}
	return eventlog.DeadLettersTopic(c.Kafka.Topic)
}
