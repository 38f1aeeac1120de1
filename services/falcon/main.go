// Command falcon runs Falcon on a laptop: `falcon dev` starts the whole
// system in one process; `falcon broker` runs the embedded broker alone.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"go.uber.org/zap"

	"github.com/falcon-chat/falcon/libs/broker"
	"github.com/falcon-chat/falcon/libs/flagenv"
	"github.com/falcon-chat/falcon/libs/hbaseserver"
	"github.com/falcon-chat/falcon/libs/legacysim"
	"github.com/falcon-chat/falcon/libs/pebblestore"
	"github.com/falcon-chat/falcon/libs/server"
	"github.com/falcon-chat/falcon/libs/setup"
	"github.com/falcon-chat/falcon/libs/tlsfiles"
	"github.com/falcon-chat/falcon/services/falcon/devstack"
)

const usage = `usage: falcon <command> [flags]

commands:
  dev         the whole system in one process: broker, store, all services, legacy stand-in
  broker      the embedded Kafka-protocol broker alone
  legacy-sim  the legacy system stand-in, with fault injection
  store       an HBase Thrift2 (THBaseService) server over Pebble, shared by separate processes
  store-init  create the read-model tables in HBase (or falcon store); safe to run again
  topics-init create the Kafka topics (events, snapshots, dead letters); safe to run again
  probe       wait until Kafka answers metadata requests and HBase's Thrift2 gateway answers
  migrate     bring the legacy MySQL history over (falcon migrate -h)

Every flag also reads FALCON_<FLAG_IN_CAPS>. Run 'falcon <command> -h' for its flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	switch cmd {
	case "dev":
		server.Exit("falcon dev", dev(args))
	case "broker":
		server.Exit("falcon broker", runBroker(args))
	case "legacy-sim":
		server.Exit("falcon legacy-sim", runLegacySim(args))
	case "store":
		server.Exit("falcon store", runStore(args))
	case "store-init":
		server.Exit("falcon store-init", runStoreInit(args))
	case "migrate":
		server.Exit("falcon migrate", runMigrate(args))
	case "topics-init":
		server.Exit("falcon topics-init", runTopicsInit(args))
	case "probe":
		server.Exit("falcon probe", runProbe(args))
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "falcon: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
}

func dev(args []string) error {
	var cfg devstack.Config
	return server.Main("falcon dev", &cfg, args, func(ctx context.Context, p server.Process) (server.Addrs, []server.Component, error) {
		return devstack.Build(ctx, cfg, p)
	})
}

func runBroker(args []string) error {
	fs := flag.NewFlagSet("falcon broker", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "./.falcon/kafka", "folder for the broker's data")
	addr := fs.String("kafka-addr", "127.0.0.1:9092", "address to listen on")
	return server.Command(fs, args, func(ctx context.Context, _ *zap.Logger) error {
		b, err := broker.Start(*dataDir, *addr)
		if err != nil {
			return err
		}
		defer b.Close()
		fmt.Printf("falcon broker listening on %s (data in %s)\n", b.Addr(), *dataDir)
		<-ctx.Done()
		return nil
	})
}

func runLegacySim(args []string) error {
	fs := flag.NewFlagSet("falcon legacy-sim", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8090", "address to listen on; deliveries are POSTed to /events")
	out := fs.String("out", "./.falcon/legacy/received.jsonl", "file the accepted deliveries are appended to, one JSON line each")
	secret := fs.String("hmac-secret", "", "refuse (401) deliveries without a valid signature with this secret; empty: accept unsigned")
	var f legacysim.Faults
	fs.Float64Var(&f.FailRate, "fail-rate", 0, "fraction (0-1) of deliveries answered with --fail-status")
	fs.IntVar(&f.FailStatus, "fail-status", 503, "status of injected failures")
	fs.DurationVar(&f.Latency, "latency", 0, "added latency")
	fs.Float64Var(&f.LatencyRate, "latency-rate", 0, "fraction (0-1) of deliveries delayed by --latency; 0: all")
	fs.DurationVar(&f.DownAfter, "down-after", 0, "go down (503 to everything) this long after start...")
	fs.DurationVar(&f.DownFor, "down-for", 0, "...for this long")
	var reject flagenv.List
	fs.Var(&reject, "reject-types", "event types refused for good with 422, comma-separated")
	return server.Command(fs, args, func(ctx context.Context, _ *zap.Logger) error {
		f.RejectTypes = reject
		if err := f.Validate(); err != nil {
			return err
		}
		opts := legacysim.Options{Faults: f}
		if *secret != "" {
			opts.Secret = []byte(*secret)
		}
		sim, err := legacysim.OpenWith(*out, opts)
		if err != nil {
			return err
		}
		defer sim.Close()
		l, err := server.Listen("legacy-sim", *addr)
		if err != nil {
			return err
		}
		fmt.Printf("falcon legacy-sim listening on http://%s/events, recording to %s\n", l.Addr(), *out)
		return legacysim.Serve(ctx, l, sim)
	})
}

func runStore(args []string) error {
	fs := flag.NewFlagSet("falcon store", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "./.falcon/store", "folder of the Pebble store")
	addr := fs.String("addr", "127.0.0.1:9095", "address to serve THBaseService (TBinaryProtocol) on")
	var o hbaseserver.Options
	fs.BoolVar(&o.Framed, "framed", false, "framed transport (HBase gateway -f); default buffered")
	fs.IntVar(&o.MaxConnections, "max-connections", hbaseserver.DefaultMaxConnections, "most client connections held at once; more wait to be accepted")
	fs.DurationVar(&o.IdleTimeout, "idle-timeout", hbaseserver.DefaultIdleTimeout, "close a connection with no request for this long")
	fs.DurationVar(&o.RequestTimeout, "request-timeout", hbaseserver.DefaultRequestTimeout, "longest time to read a request, from its first byte, and write its answer")
	var tlsFiles tlsfiles.Server
	fs.StringVar(&tlsFiles.CertFile, "tls-cert-file", "", "PEM certificate to serve TLS only with (read again when it changes)")
	fs.StringVar(&tlsFiles.KeyFile, "tls-key-file", "", "PEM private key of --tls-cert-file")
	fs.StringVar(&tlsFiles.ClientCAFile, "tls-client-ca-file", "", "PEM CA bundle: clients must present a certificate it signed (mutual TLS)")
	return server.Command(fs, args, func(ctx context.Context, _ *zap.Logger) error {
		var err error
		if o.TLS, err = tlsFiles.Config(true); err != nil {
			return err
		}
		store, err := pebblestore.Open(*dataDir)
		if err != nil {
			return err
		}
		defer store.Close()
		h, err := hbaseserver.NewHandler(ctx, store)
		if err != nil {
			return err
		}
		transport := "buffered"
		if o.Framed {
			transport = "framed"
		}
		if o.TLS != nil {
			transport += "&tls=true"
		}
		fmt.Printf("falcon store: hbase+thrift://%s?transport=%s (data in %s)\n", *addr, transport, *dataDir)
		return hbaseserver.Serve(ctx, *addr, h, o)
	})
}

func runStoreInit(args []string) error {
	fs := flag.NewFlagSet("falcon store-init", flag.ContinueOnError)
	var cfg setup.TablesConfig
	cfg.RegisterFlags(fs)
	fs.String("log-level", "warn", "log level: debug, info, warn, error")
	return server.Command(fs, args, func(ctx context.Context, log *zap.Logger) error {
		return setup.Tables(ctx, cfg, log, os.Stdout)
	})
}

func runTopicsInit(args []string) error {
	fs := flag.NewFlagSet("falcon topics-init", flag.ContinueOnError)
	var cfg setup.TopicsConfig
	cfg.RegisterFlags(fs)
	fs.String("log-level", "warn", "log level: debug, info, warn, error")
	return server.Command(fs, args, func(ctx context.Context, log *zap.Logger) error {
		return setup.Topics(ctx, cfg, log, os.Stdout)
	})
}
