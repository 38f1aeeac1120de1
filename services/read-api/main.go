// Command read-api serves ThreadQueryService from the read models.
package main

import (
	"context"
	"flag"
	"os"

	"github.com/falcon-chat/falcon/libs/hbasestore"
	"github.com/falcon-chat/falcon/libs/readstore"
	"github.com/falcon-chat/falcon/libs/server"
	"github.com/falcon-chat/falcon/services/read-api/readapi"
)

func main() {
	fs := flag.NewFlagSet("read-api", flag.ContinueOnError)
	var cfg readapi.Config
	var common server.Common
	cfg.RegisterFlags(fs)
	common.RegisterFlags(fs)
	server.Exit("read-api", server.Main(fs, &common, os.Args[1:], func(ctx context.Context, p server.Process) (server.Addrs, []server.Component, error) {
		store, err := readstore.Open(ctx, cfg.Store, map[string]readstore.Opener{"hbase+thrift": hbasestore.Opener})
		if err != nil {
			return server.Addrs{}, nil, err
		}
		p.Defer(func() { _ = store.Close() })
		return server.Addrs{GRPC: cfg.GRPCAddr, HTTP: cfg.HTTPAddr}, []server.Component{readapi.New(cfg, store, p.Log, p.Registry)}, nil
	}))
}
