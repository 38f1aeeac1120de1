// Command falcon runs Falcon on a laptop: `falcon dev` starts the whole
// system in one process; `falcon broker` runs the embedded broker alone.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/falcon-chat/falcon/libs/broker"
	"github.com/falcon-chat/falcon/libs/flagenv"
	"github.com/falcon-chat/falcon/libs/server"
	"github.com/falcon-chat/falcon/services/falcon/devstack"
)

const usage = `usage: falcon <command> [flags]

commands:
  dev      the whole system in one process: broker, store, all services, legacy stand-in
  broker   the embedded Kafka-protocol broker alone

Every flag also reads FALCON_<FLAG_IN_CAPS>. Run 'falcon <command> -h' for its flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	switch cmd {
	case "dev":
		server.Exit("falcon dev", dev(args))
	case "broker":
		server.Exit("falcon broker", runBroker(args))
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "falcon: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
}

func dev(args []string) error {
	fs := flag.NewFlagSet("falcon dev", flag.ContinueOnError)
	var cfg devstack.Config
	var common server.Common
	cfg.RegisterFlags(fs)
	common.RegisterFlags(fs)
	return server.Main(fs, &common, args, func(ctx context.Context, p server.Process) (server.Addrs, []server.Component, error) {
		return devstack.Build(ctx, cfg, p)
	})
}

func runBroker(args []string) error {
	fs := flag.NewFlagSet("falcon broker", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "./.falcon/kafka", "folder for the broker's data")
	addr := fs.String("kafka-addr", "127.0.0.1:9092", "address to listen on")
	if err := flagenv.Parse(fs, args); err != nil {
		return err
	}
	b, err := broker.Start(*dataDir, *addr)
	if err != nil {
		return err
	}
	fmt.Printf("falcon broker listening on %s (data in %s)\n", b.Addr(), *dataDir)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	b.Close()
	return nil
}
