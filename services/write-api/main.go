// Command write-api serves ThreadCommandService: it validates commands
// against thread aggregates rebuilt from Kafka and appends their events.
package main

import (
	"context"
	"os"

	"github.com/falcon-chat/falcon/libs/server"
	"github.com/falcon-chat/falcon/services/write-api/writeapi"
)

func main() {
	var cfg writeapi.Config
	server.Exit("write-api", server.Main("write-api", &cfg, os.Args[1:], func(ctx context.Context, p server.Process) (server.Addrs, []server.Component, error) {
		w, err := writeapi.New(cfg, p.Log, p.Registry, p.Tracer)
		if err != nil {
			return server.Addrs{}, nil, err
		}
		return server.Addrs{GRPC: cfg.GRPCAddr, HTTP: cfg.HTTPAddr, Metrics: "127.0.0.1:9101"}, []server.Component{w}, nil
	}))
}
