package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/falcon-chat/falcon/libs/auth"
	"github.com/falcon-chat/falcon/libs/flagenv"
	"github.com/falcon-chat/falcon/libs/logging"
)

// Process is what a program hands its components: the logger and the
// metrics registry.
type Process struct {
	Log      *zap.Logger
	Registry *prometheus.Registry
	closers  *[]func()
}

// Defer runs f once every component has stopped, in reverse order of
// registration: for what components share, such as a store.
func (p Process) Defer(f func()) { *p.closers = append(*p.closers, f) }

// BuildFunc builds a program's components and says where it listens.
type BuildFunc func(ctx context.Context, p Process) (Addrs, []Component, error)

// Main parses the flags (with FALCON_* fallbacks), sets up logging,
// identity and metrics, builds the components and runs them until SIGINT or
// SIGTERM, then drains.
func Main(fs *flag.FlagSet, common *Common, args []string, build BuildFunc) error {
	if err := flagenv.Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	log, err := logging.New(common.LogLevel)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var closers []func()
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()
	addrs, comps, err := build(ctx, Process{Log: log, Registry: reg, closers: &closers})
	if err != nil {
		return err
	}
	// Only a program that serves requests establishes who calls.
	var authn auth.Authenticator
	if addrs.GRPC != "" {
		if authn, err = auth.New(common.Auth, common.JWT); err != nil {
			return err
		}
		if common.Auth == "dev" {
			log.Warn("--auth=dev: trusting the X-Account-Id header as the caller's identity; never use this in production")
		}
	}
	if addrs.Metrics == "" {
		addrs.Metrics = common.MetricsAddr
	}
	err = Run(ctx, log, authn, reg, addrs, comps...)
	log.Info("stopped", zap.Error(err))
	return err
}

// Exit ends a program: status 1 with the error on stderr, or 0.
func Exit(program string, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", program, err)
		os.Exit(1)
	}
	os.Exit(0)
}
