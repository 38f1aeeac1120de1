// Command sparrow-forwarder delivers every thread event to the legacy system.
//
//	sparrow-forwarder [flags]             forward events
//	sparrow-forwarder replay-dlq [flags]  redeliver dead letters, then release their threads
package main

import (
	"context"
	"flag"
	"os"
	"os/signal"
	"syscall"

	"github.com/falcon-chat/falcon/libs/flagenv"
	"github.com/falcon-chat/falcon/libs/logging"
	"github.com/falcon-chat/falcon/libs/server"
	"github.com/falcon-chat/falcon/services/sparrow-forwarder/forwarder"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "replay-dlq" {
		server.Exit("sparrow-forwarder replay-dlq", replay(os.Args[2:]))
	}
	fs := flag.NewFlagSet("sparrow-forwarder", flag.ContinueOnError)
	var cfg forwarder.Config
	var common server.Common
	cfg.RegisterFlags(fs)
	common.RegisterFlags(fs)
	server.Exit("sparrow-forwarder", server.Main(fs, &common, os.Args[1:], func(ctx context.Context, p server.Process) (server.Addrs, []server.Component, error) {
		f, err := forwarder.New(cfg, p.Log, p.Registry)
		if err != nil {
			return server.Addrs{}, nil, err
		}
		return server.Addrs{HTTP: cfg.HTTPAddr}, []server.Component{f}, nil
	}))
}

func replay(args []string) error {
	fs := flag.NewFlagSet("sparrow-forwarder replay-dlq", flag.ContinueOnError)
	var cfg forwarder.Config
	cfg.RegisterFlags(fs)
	level := fs.String("log-level", "info", "log level")
	if err := flagenv.Parse(fs, args); err != nil {
		return err
	}
	log, err := logging.New(*level)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return forwarder.ReplayDeadLetters(ctx, cfg, log, os.Stdout)
}
