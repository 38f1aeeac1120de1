// Command write-api serves ThreadCommandService: it validates commands
// against thread aggregates rebuilt from Kafka and appends their events.
package main

import (
	"context"
	"flag"
	"os"

	"github.com/falcon-chat/falcon/libs/server"
	"github.com/falcon-chat/falcon/services/write-api/writeapi"
)

func main() {
	fs := flag.NewFlagSet("write-api", flag.ContinueOnError)
	var cfg writeapi.Config
	var common server.Common
	cfg.RegisterFlags(fs)
	common.RegisterFlags(fs)
	server.Exit("write-api", server.Main(fs, &common, os.Args[1:], func(ctx context.Context, p server.Process) (server.Addrs, []server.Component, error) {
		w, err := writeapi.New(cfg, p.Log, p.Registry)
		if err != nil {
			return server.Addrs{}, nil, err
		}
		return server.Addrs{GRPC: cfg.GRPCAddr, HTTP: cfg.HTTPAddr}, []server.Component{w}, nil
	}))
}
