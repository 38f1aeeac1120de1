// Package devstack assembles `falcon dev`: the embedded broker and store,
// the four services and the legacy stand-in, in one process, every client
// talking to the broker over TCP as in production.
package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"net/http"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/falcon-chat/falcon/libs/broker"
	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/legacysim"
	"github.com/falcon-chat/falcon/libs/pebblestore"
	"github.com/falcon-chat/falcon/libs/server"
	"github.com/falcon-chat/falcon/services/falcon/web"
	"github.com/falcon-chat/falcon/services/read-api/readapi"
	"github.com/falcon-chat/falcon/services/read-model-updater/updater"
	"github.com/falcon-chat/falcon/services/sparrow-forwarder/forwarder"
	"github.com/falcon-chat/falcon/services/write-api/writeapi"
)

// Config is the development stack's configuration.
type Config struct {
	DataDir    string
	HTTPAddr   string
	GRPCAddr   string
	KafkaAddr  string
	LegacyAddr string
	Topic      string
	Partitions int
	// MigrationAccount may import and audit (falcon migrate).
	MigrationAccount string
}

// DefaultAuth is falcon dev's identity mode unless --auth says otherwise:
// the development header, on loopback addresses.
func (c *Config) DefaultAuth() string { return "dev" }

// RegisterFlags adds falcon dev's flags to fs with their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data-dir", "./.falcon", "folder for all data (broker log, read store, legacy deliveries)")
	fs.StringVar(&c.HTTPAddr, "http-addr", "127.0.0.1:8080", "REST address (every route), health and metrics")
	fs.StringVar(&c.GRPCAddr, "grpc-addr", "127.0.0.1:9090", "gRPC address (both services)")
	fs.StringVar(&c.KafkaAddr, "kafka-addr", "127.0.0.1:9092", "embedded Kafka-protocol broker address")
	fs.StringVar(&c.LegacyAddr, "legacy-addr", "127.0.0.1:0", "legacy stand-in address (port 0: any free port)")
	fs.StringVar(&c.Topic, "topic", eventlog.DefaultTopic, "thread events topic")
	fs.IntVar(&c.Partitions, "partitions", 12, "partitions of the events topic")
	fs.StringVar(&c.MigrationAccount, "migration-account", "migration", "account that may import the legacy history and read every thread (falcon migrate; empty: none)")
}

// Build starts the broker, the store and the legacy stand-in, and returns
// the services as components. What it opens is closed through p.Defer once
// the components have stopped.
func Build(ctx context.Context, cfg Config, p server.Process) (server.Addrs, []server.Component, error) {
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return server.Addrs{}, nil, fmt.Errorf("--data-dir %q: %w", cfg.DataDir, err)
	}
	b, err := broker.Start(filepath.Join(dir, "kafka"), cfg.KafkaAddr)
	if err != nil {
		return server.Addrs{}, nil, err
	}
	p.Defer(b.Close)
	store, err := pebblestore.Open(filepath.Join(dir, "read-store"))
	if err != nil {
		return server.Addrs{}, nil, err
	}
	p.Defer(func() { _ = store.Close() })
	legacyOut := filepath.Join(dir, "legacy", "received.jsonl")
	// A fresh secret per run: dev deliveries are signed and checked like
	// production ones.
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return server.Addrs{}, nil, err
	}
	sim, err := legacysim.OpenWith(legacyOut, legacysim.Options{Secret: []byte(hex.EncodeToString(secret))})
	if err != nil {
		return server.Addrs{}, nil, err
	}
	p.Defer(func() { _ = sim.Close() })
	legacyL, err := server.Listen("legacy stand-in", cfg.LegacyAddr)
	if err != nil {
		return server.Addrs{}, nil, err
	}
	legacyURL := "http://" + legacyL.Addr().String() + "/events"

	brokers := []string{b.Addr()}
	var wcfg writeapi.Config
	var rcfg readapi.Config
	var ucfg updater.Config
	var fcfg forwarder.Config
	// Each service starts from its own defaults, then takes the stack's.
	for _, register := range []func(*flag.FlagSet){wcfg.RegisterFlags, rcfg.RegisterFlags, ucfg.RegisterFlags, fcfg.RegisterFlags} {
		register(flag.NewFlagSet("defaults", flag.ContinueOnError))
	}
	// The services' sarama clients share one set of metrics.
	kafka := eventlog.Config{Brokers: brokers, Topic: cfg.Topic, Metrics: eventlog.ClientMetrics(p.Registry)}
	wcfg.Kafka, rcfg.Kafka, ucfg.Kafka, fcfg.Kafka = kafka, kafka, kafka, kafka
	wcfg.Partitions = cfg.Partitions
	wcfg.GRPCAddr, wcfg.AdvertiseAddr = cfg.GRPCAddr, cfg.GRPCAddr
	// One replica: nobody else to prove forwarding to, but a secret keeps
	// the warning about running without one for deployments.
	wcfg.ReplicaSecret = hex.EncodeToString(secret)
	if cfg.MigrationAccount != "" {
		wcfg.ImportAccounts = []string{cfg.MigrationAccount}
		rcfg.AuditAccounts = []string{cfg.MigrationAccount}
	}
	fcfg.LegacyURL = legacyURL
	fcfg.HMACSecret = hex.EncodeToString(secret)

	w, err := writeapi.New(wcfg, p.Log, p.Registry, p.Tracer)
	if err != nil {
		legacyL.Close()
		return server.Addrs{}, nil, err
	}
	u, err := updater.New(ucfg, store, p.Log, p.Registry, p.Tracer)
	if err != nil {
		legacyL.Close()
		return server.Addrs{}, nil, err
	}
	f, err := forwarder.New(fcfg, p.Log, p.Registry, p.Tracer)
	if err != nil {
		legacyL.Close()
		return server.Addrs{}, nil, err
	}
	r, err := readapi.New(rcfg, store, p.Log, p.Registry)
	if err != nil {
		legacyL.Close()
		return server.Addrs{}, nil, err
	}
	p.Log.Info("falcon dev",
		zap.String("data_dir", dir), zap.String("rest", "http://"+cfg.HTTPAddr), zap.String("grpc", cfg.GRPCAddr),
		zap.String("kafka", b.Addr()), zap.String("legacy_url", legacyURL), zap.String("legacy_out", legacyOut))
	legacy := &legacyServer{l: legacyL, h: sim}
	return server.Addrs{GRPC: cfg.GRPCAddr, HTTP: cfg.HTTPAddr, Metrics: "127.0.0.1:9100"}, []server.Component{w, r, u, f, legacy, web.Client{}}, nil
}

// legacyServer serves the legacy stand-in as a component of the stack.
type legacyServer struct {
	l net.Listener
	h http.Handler
}

func (s *legacyServer) Run(ctx context.Context) error { return legacysim.Serve(ctx, s.l, s.h) }
