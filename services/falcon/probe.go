package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"

	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/flagenv"
	"github.com/falcon-chat/falcon/libs/hbasestore"
	"github.com/falcon-chat/falcon/libs/server"
)

// runProbe waits until a Kafka cluster answers metadata requests and an
// HBase Thrift2 gateway answers listNamespaces (HBase's master is up), for
// scripts and init containers that must not start work before them.
func runProbe(args []string) error {
	fs := flag.NewFlagSet("falcon probe", flag.ContinueOnError)
	var kafka flagenv.List
	fs.Var(&kafka, "kafka", "Kafka bootstrap brokers to wait for, comma-separated")
	hbaseAddr := fs.String("hbase", "", "HBase Thrift2 gateway host:port to wait for")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	return server.Command(fs, args, func(ctx context.Context, _ *zap.Logger) error {
		if len(kafka) == 0 && *hbaseAddr == "" {
			return errors.New("nothing to wait for: give --kafka and/or --hbase")
		}
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		if len(kafka) > 0 {
			if err := waitFor(ctx, "Kafka at "+kafka.String(), func() error { return pingKafka(kafka) }); err != nil {
				return err
			}
		}
		if *hbaseAddr != "" {
			return waitFor(ctx, "HBase Thrift2 gateway at "+*hbaseAddr, func() error { return pingHBase(ctx, *hbaseAddr) })
		}
		return nil
	})
}

// waitFor retries ping until it succeeds or ctx ends, saying now and then
// what it is waiting for and why.
func waitFor(ctx context.Context, what string, ping func() error) error {
	start := time.Now()
	lastSaid := time.Time{}
	for {
		err := ping()
		if err == nil {
			fmt.Printf("%s: ok after %s\n", what, time.Since(start).Round(100*time.Millisecond))
			return nil
		}
		if time.Since(lastSaid) > 10*time.Second {
			fmt.Printf("waiting for %s: %v\n", what, err)
			lastSaid = time.Now()
		}
		if eventlog.Sleep(ctx, 500*time.Millisecond) != nil {
			return fmt.Errorf("%s: gave up after %s: %w", what, time.Since(start).Round(time.Second), err)
		}
	}
}

func pingKafka(brokers []string) error {
	cfg := eventlog.NewConfig("falcon-probe")
	cfg.Net.DialTimeout = 2 * time.Second
	cfg.Metadata.Retry.Max = 0
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		return err
	}
	defer client.Close()
	if err := client.RefreshMetadata(); err != nil {
		return err
	}
	if _, err := client.Controller(); err != nil {
		return fmt.Errorf("no controller yet: %w", err)
	}
	return nil
}

func pingHBase(ctx context.Context, addr string) error {
	s, err := hbasestore.Open(ctx, hbasestore.Options{Addr: addr, PoolSize: 1, Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Ping(ctx)
}
