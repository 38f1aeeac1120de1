package stream

import (
	"errors"
	"flag"
	"time"
)

// Config bounds the event stream of one read-api replica.
type Config struct {
	// Buffer is the events queued for one subscriber; one further behind
	// is disconnected with its cursor, so it never slows the others.
	Buffer int
	// PerAccount and MaxSubscribers cap the streams of one account and of
	// the replica.
	PerAccount     int
	MaxSubscribers int
	// Retain is the events kept per partition for subscribers that resume:
	// a cursor older than them is refused (the client reloads).
	Retain int
	// Heartbeat is the longest a stream stays silent: proxies keep a
	// connection that carries something.
	Heartbeat time.Duration
}

// RegisterFlags adds the stream's flags to fs with their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.Buffer, "stream-buffer", 256, "events queued for one stream subscriber; one further behind is disconnected with a cursor to resume")
	fs.IntVar(&c.PerAccount, "stream-max-per-account", 16, "most streams one account may hold on a replica")
	fs.IntVar(&c.MaxSubscribers, "stream-max-subscribers", 20000, "most streams a replica holds")
	fs.IntVar(&c.Retain, "stream-retain", 4096, "events kept per partition for streams that resume; an older cursor must reload")
	fs.DurationVar(&c.Heartbeat, "stream-heartbeat", 15*time.Second, "longest a stream stays silent before a heartbeat")
}

// Validate checks the bounds.
func (c Config) Validate() error {
	switch {
	case c.Buffer < 1:
		return errors.New("--stream-buffer must be at least 1")
	case c.PerAccount < 1 || c.MaxSubscribers < 1:
		return errors.New("--stream-max-per-account and --stream-max-subscribers must be at least 1")
	case c.Retain < 1:
		return errors.New("--stream-retain must be at least 1")
	case c.Heartbeat < time.Second:
		return errors.New("--stream-heartbeat must be at least 1s")
	}
	return nil
}

// orDefaults fills what a caller that registered no flags left unset.
func (c Config) orDefaults() Config {
	var d Config
	d.RegisterFlags(flag.NewFlagSet("defaults", flag.ContinueOnError))
	if c.Buffer == 0 {
		c.Buffer = d.Buffer
	}
	if c.PerAccount == 0 {
		c.PerAccount = d.PerAccount
	}
	if c.MaxSubscribers == 0 {
		c.MaxSubscribers = d.MaxSubscribers
	}
	if c.Retain == 0 {
		c.Retain = d.Retain
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = d.Heartbeat
	}
	return c
}
