// Command read-api serves ThreadQueryService from the read models.
package main

import (
	"context"
	"os"

	"github.com/falcon-chat/falcon/libs/readstore/drivers"
	"github.com/falcon-chat/falcon/libs/server"
	"github.com/falcon-chat/falcon/services/read-api/readapi"
)

func main() {
	var cfg readapi.Config
	server.Exit("read-api", server.Main("read-api", &cfg, os.Args[1:], func(ctx context.Context, p server.Process) (server.Addrs, []server.Component, error) {
		store, err := drivers.Open(ctx, cfg.Store)
		if err != nil {
			return server.Addrs{}, nil, err
		}
		p.Defer(func() { _ = store.Close() })
		p.MetricsOf(store)
		api, err := readapi.New(cfg, store, p.Log, p.Registry)
		if err != nil {
			return server.Addrs{}, nil, err
		}
		return server.Addrs{GRPC: cfg.GRPCAddr, HTTP: cfg.HTTPAddr, Metrics: "127.0.0.1:9103"}, []server.Component{api}, nil
	}))
}
