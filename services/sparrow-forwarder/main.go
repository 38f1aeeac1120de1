// Command sparrow-forwarder delivers every thread event to the legacy system.
//
//	sparrow-forwarder [flags]             forward events
//	sparrow-forwarder replay-dlq [flags]  redeliver dead letters, then release their threads
package main

import (
	"context"
	"flag"
	"os"

	"go.uber.org/zap"

	"github.com/falcon-chat/falcon/libs/server"
	"github.com/falcon-chat/falcon/services/sparrow-forwarder/forwarder"
)

func main() {
	server.Dispatch("sparrow-forwarder", os.Args[1:], map[string]func([]string) error{"replay-dlq": replay}, serve)
}

func serve(args []string) error {
	var cfg forwarder.Config
	return server.Main("sparrow-forwarder", &cfg, args, func(_ context.Context, p server.Process) (server.Addrs, []server.Component, error) {
		f, err := forwarder.New(cfg, p.Log, p.Registry, p.Tracer)
		if err != nil {
			return server.Addrs{}, nil, err
		}
		return server.Addrs{HTTP: cfg.HTTPAddr}, []server.Component{f}, nil
	})
}

func replay(args []string) error {
	fs := flag.NewFlagSet("sparrow-forwarder replay-dlq", flag.ContinueOnError)
	var cfg forwarder.Config
	cfg.RegisterFlags(fs)
	return server.Command(fs, args, func(ctx context.Context, log *zap.Logger) error {
		return forwarder.ReplayDeadLetters(ctx, cfg, log, os.Stdout)
	})
}
