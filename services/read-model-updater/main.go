// Command read-model-updater applies thread events to the read models.
//
//	read-model-updater [flags]           apply events as they come
//	read-model-updater rebuild [flags]   project the whole topic into new tables and switch to them
package main

import (
	"context"
	"flag"
	"os"

	"go.uber.org/zap"

	"github.com/falcon-chat/falcon/libs/readstore/drivers"

	"github.com/falcon-chat/falcon/libs/server"
	"github.com/falcon-chat/falcon/services/read-model-updater/updater"
)

func main() {
	server.Dispatch("read-model-updater", os.Args[1:], map[string]func([]string) error{"rebuild": rebuild}, serve)
}

func serve(args []string) error {
	var cfg updater.Config
	return server.Main("read-model-updater", &cfg, args, func(ctx context.Context, p server.Process) (server.Addrs, []server.Component, error) {
		store, err := drivers.Open(ctx, cfg.Store)
		if err != nil {
			return server.Addrs{}, nil, err
		}
		p.Defer(func() { _ = store.Close() })
		p.MetricsOf(store)
		u, err := updater.New(cfg, store, p.Log, p.Registry, p.Tracer)
		if err != nil {
			return server.Addrs{}, nil, err
		}
		return server.Addrs{HTTP: cfg.HTTPAddr}, []server.Component{u}, nil
	})
}

func rebuild(args []string) error {
	fs := flag.NewFlagSet("read-model-updater rebuild", flag.ContinueOnError)
	var cfg updater.Config
	cfg.RegisterFlags(fs)
	dropOld := fs.Bool("drop-old", false, "delete the old generation's tables once read-apis have moved")
	abort := fs.Bool("abort", false, "only resume the updaters of a rebuild that was killed while they were paused")
	return server.Command(fs, args, func(ctx context.Context, log *zap.Logger) error {
		store, err := drivers.Open(ctx, cfg.Store)
		if err != nil {
			return err
		}
		defer store.Close()
		if *abort {
			return updater.AbortRebuild(ctx, store, os.Stdout)
		}
		return updater.Rebuild(ctx, cfg, store, log, os.Stdout, *dropOld)
	})
}
