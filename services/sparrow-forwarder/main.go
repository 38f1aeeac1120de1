// Command sparrow-forwarder delivers every thread event to the legacy system.
package main

import (
	"context"
	"flag"
	"os"

	"github.com/falcon-chat/falcon/libs/server"
	"github.com/falcon-chat/falcon/services/sparrow-forwarder/forwarder"
)

func main() {
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
