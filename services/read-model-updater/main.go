// Command read-model-updater applies thread events to the read models.
package main

import (
	"context"
	"flag"
	"os"

	"github.com/falcon-chat/falcon/libs/hbasestore"
	"github.com/falcon-chat/falcon/libs/readstore"
	"github.com/falcon-chat/falcon/libs/server"
	"github.com/falcon-chat/falcon/services/read-model-updater/updater"
)

func main() {
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
