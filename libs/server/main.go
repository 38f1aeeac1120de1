package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/falcon-chat/falcon/libs/auth"
	"github.com/falcon-chat/falcon/libs/tracing"
)

// Process is what a program hands its components: the logger, the metrics
// registry and the tracer.
type Process struct {
	Log      *zap.Logger
	Registry *prometheus.Registry
	Tracer   trace.TracerProvider
	closers  *[]func()
}

// MetricsOf registers x's metrics if it has any (x is a
// prometheus.Collector: a store's client metrics, say).
func (p Process) MetricsOf(x any) {
	if c, ok := x.(prometheus.Collector); ok {
		p.Registry.MustRegister(c)
	}
}

// Defer runs f once every component has stopped, in reverse order of
// registration: for what components share, such as a store.
func (p Process) Defer(f func()) { *p.closers = append(*p.closers, f) }

// BuildFunc builds a program's components and says where it listens.
type BuildFunc func(ctx context.Context, p Process) (Addrs, []Component, error)

// Flagger is a configuration block: it adds its flags to a flag set.
type Flagger interface {
	RegisterFlags(fs *flag.FlagSet)
}

// Main is a service program: it registers cfg's flags and the ones every
// service shares (Common), parses them (with FALCON_* fallbacks), sets up
// logging, identity and metrics, builds the components and runs them until
// SIGINT or SIGTERM, then drains.
func Main(name string, cfg Flagger, args []string, build BuildFunc) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var common Common
	if d, ok := cfg.(interface{ DefaultAuth() string }); ok {
		common.Auth = d.DefaultAuth()
	}
	cfg.RegisterFlags(fs)
	common.RegisterFlags(fs)
	return command(fs, args, func(ctx context.Context, log *zap.Logger, level zap.AtomicLevel) error {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		var closers []func()
		defer func() {
			for i := len(closers) - 1; i >= 0; i-- {
				closers[i]()
			}
		}()
		if err := errors.Join(common.Limits.Validate(), common.TLS.Validate(), common.RateLimits.Validate(), common.Tracing.Validate()); err != nil {
			return err
		}
		tr, err := tracing.New(ctx, common.Tracing, name)
		if err != nil {
			return err
		}
		defer func() {
			// The spans of the last requests, sent before exiting.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := tr.Shutdown(sctx); err != nil {
				log.Warn("traces not exported at exit", zap.Error(err))
			}
		}()
		addrs, comps, err := build(ctx, Process{Log: log, Registry: reg, Tracer: tr.Provider, closers: &closers})
		if err != nil {
			return err
		}
		// Only a program that serves requests establishes who calls.
		var authn auth.Authenticator
		if addrs.GRPC != "" {
			if authn, err = auth.New(ctx, common.Auth, common.JWT); err != nil {
				return err
			}
			if common.Auth == "dev" {
				if err := devAuthAllowed(addrs, common.InsecureDevAuth); err != nil {
					return err
				}
				log.Warn("--auth=dev: trusting the X-Account-Id header as the caller's identity; never use this in production")
			}
		}
		if common.MetricsAddr != "" {
			addrs.Metrics = common.MetricsAddr
		}
		// Every listener opens before anything runs, so a taken port fails
		// fast.
		ls, err := addrs.Listen()
		if err != nil {
			return err
		}
		err = Run(ctx, Serving{
			Log: log, Authn: authn, Registry: reg, Listeners: ls,
			Admin:     Admin{Pprof: common.Pprof, LogLevel: &level},
			AccessLog: common.AccessLog, Reflection: common.Reflection, Tracer: tr.Provider,
			Limits: common.Limits, TLS: common.TLS, RateLimits: common.RateLimits,
		}, comps...)
		log.Info("stopped", zap.Error(err))
		return err
	})
}

// Dispatch runs the subcommand args[0] names, if subs has it, else serve
// with every argument, and exits with the outcome.
func Dispatch(program string, args []string, subs map[string]func(args []string) error, serve func(args []string) error) {
	if len(args) > 0 {
		if sub, ok := subs[args[0]]; ok {
			Exit(program+" "+args[0], sub(args[1:]))
		}
	}
	Exit(program, serve(args))
}

// Exit ends a program: status 1 with the error on stderr, or 0.
func Exit(program string, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", program, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// devAuthAllowed refuses --auth=dev where others can reach it: on a
// non-loopback address anyone could act as anyone by naming an account in
// a header. --insecure-dev-auth says the operator means it.
func devAuthAllowed(addrs Addrs, insecure bool) error {
	if insecure {
		return nil
	}
	for _, a := range []string{addrs.GRPC, addrs.HTTP} {
		if a == "" {
			continue
		}
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return fmt.Errorf("address %q: %w", a, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("--auth=dev trusts the X-Account-Id header from anyone, and %s is not a loopback address: use --auth=jwt, or give --insecure-dev-auth if this really is a closed development setup", a)
		}
	}
	return nil
}
