// Command read-model-updater applies thread events to the read models.
//
//	read-model-updater [flags]           apply events as they come
//	read-model-updater rebuild [flags]   project the whole topic into new tables and switch to them
package main

import (
	"os/signal"
	"syscall"

	"context"
	"flag"
	"github.com/falcon-chat/falcon/libs/flagenv"
	"github.com/falcon-chat/falcon/libs/logging"
	"os"

	"github.com/falcon-chat/falcon/libs/hbasestore"
	"github.com/falcon-chat/falcon/libs/readstore"
	"github.com/falcon-chat/falcon/libs/server"
	"github.com/falcon-chat/falcon/services/read-model-updater/updater"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "rebuild" {
		server.Exit("read-model-updater rebuild", rebuild(os.Args[2:]))
	}
	fs := flag.NewFlagSet("read-model-updater", flag.ContinueOnError)
	var cfg updater.Config
	var common server.Common
	cfg.RegisterFlags(fs)
	common.RegisterFlags(fs)
	server.Exit("read-model-updater", server.Main(fs, &common, os.Args[1:], func(ctx context.Context, p server.Process) (server.Addrs, []server.Component, error) {
		store, err := readstore.Open(ctx, cfg.Store, map[string]readstore.Opener{"hbase+thrift": hbasestore.Opener})
		if err != nil {
			return server.Addrs{}, nil, err
		}
		p.Defer(func() { _ = store.Close() })
		u, err := updater.New(cfg, store, p.Log, p.Registry)
		if err != nil {
			return server.Addrs{}, nil, err
		}
		return server.Addrs{HTTP: cfg.HTTPAddr}, []server.Component{u}, nil
	}))
}

func rebuild(args []string) error {
	fs := flag.NewFlagSet("read-model-updater rebuild", flag.ContinueOnError)
	var cfg updater.Config
	cfg.RegisterFlags(fs)
	level := fs.String("log-level", "info", "log level")
	dropOld := fs.Bool("drop-old", false, "delete the old generation's tables once read-apis have moved")
	abort := fs.Bool("abort", false, "only resume the updaters of a rebuild that was killed while they were paused")
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
	store, err := readstore.Open(ctx, cfg.Store, map[string]readstore.Opener{"hbase+thrift": hbasestore.Opener})
	if err != nil {
		return err
	}
	defer store.Close()
	if *abort {
		return updater.AbortRebuild(ctx, store, os.Stdout)
	}
	return updater.Rebuild(ctx, cfg, store, log, os.Stdout, *dropOld)
}
