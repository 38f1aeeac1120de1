package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	"github.com/falcon-chat/falcon/libs/auth"
)

// Component is one service that runs alone or beside others in one process
// (falcon dev), as Mimir and Loki components do.
type Component interface {
	// RegisterGRPC adds the component's gRPC services, if any.
	RegisterGRPC(s *grpc.Server)
	// Gateway returns the component's REST routes, if any.
	Gateway() []RegisterFunc
	// Ready is nil once the component can take traffic.
	Ready() error
	// Run works until ctx ends, then drains and returns.
	Run(ctx context.Context) error
}

// Common is the configuration every service shares.
type Common struct {
	Auth        string
	JWT         auth.JWTOptions
	LogLevel    string
	MetricsAddr string
}

func (c *Common) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Auth, "auth", "dev", "identity: dev (trusts X-Account-Id; development only) or jwt (Authorization: Bearer)")
	fs.StringVar(&c.JWT.PublicKeyFile, "jwt-public-key-file", "", "--auth=jwt: PEM public key (RSA, ECDSA, Ed25519) of the token issuer")
	fs.StringVar(&c.JWT.Issuer, "jwt-issuer", "", "--auth=jwt: required iss claim (empty: any)")
	fs.StringVar(&c.JWT.Audience, "jwt-audience", "", "--auth=jwt: required aud claim (empty: any)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "separate listen address for /metrics, /healthz and /readyz (default: on --http-addr)")
}

// Addrs are where a process listens. An empty GRPC means no gRPC server
// (and so no REST gateway); an empty HTTP serves health and metrics on
// Metrics only.
type Addrs struct {
	GRPC    string
	HTTP    string
	Metrics string
}

// Run serves the components until ctx ends, then shuts the servers down
// (draining in-flight requests) before stopping the components. Each
// listener is opened before anything runs, so a taken port fails fast.
func Run(ctx context.Context, log *zap.Logger, authn auth.Authenticator, reg *prometheus.Registry, addrs Addrs, comps ...Component) error {
	if addrs.HTTP == "" && addrs.Metrics == "" {
		return errors.New("no HTTP address for health and metrics: set --http-addr or --metrics-addr")
	}
	ready := func() error {
		for _, c := range comps {
			if err := c.Ready(); err != nil {
				return err
			}
		}
		return nil
	}
	hs := health.NewServer()
	serveCtx, stopServing := context.WithCancel(context.Background())
	defer stopServing()
	servers, sctx := errgroup.WithContext(serveCtx)
	// Components outlive ctx until the servers have drained: in-flight
	// requests still need them.
	compCtx, stopComps := context.WithCancel(context.Background())
	defer stopComps()
	compGroup, cctx := errgroup.WithContext(compCtx)

	var gateways []RegisterFunc
	if addrs.GRPC != "" {
		gs := NewGRPC(log, authn, NewRPCMetrics(reg), hs)
		for _, c := range comps {
			c.RegisterGRPC(gs)
			gateways = append(gateways, c.Gateway()...)
		}
		l, err := Listen("gRPC", addrs.GRPC)
		if err != nil {
			return err
		}
		servers.Go(func() error { return ServeGRPC(sctx, log, gs, l) })
		log.Info("gRPC listening", zap.String("addr", l.Addr().String()))
	}
	if addrs.HTTP != "" {
		var gw http.Handler
		if len(gateways) > 0 {
			h, closeGW, err := NewGateway(ctx, addrs.GRPC, gateways...)
			if err != nil {
				stopServing()
				_ = servers.Wait()
				return err
			}
			defer closeGW()
			gw = h
		}
		l, err := Listen("HTTP", addrs.HTTP)
		if err != nil {
			stopServing()
			_ = servers.Wait()
			return err
		}
		mux := NewHTTPMux(gw, ready, reg)
		servers.Go(func() error { return ServeHTTP(sctx, mux, l) })
		log.Info("HTTP listening", zap.String("addr", l.Addr().String()))
	}
	if addrs.Metrics != "" && addrs.Metrics != addrs.HTTP {
		l, err := Listen("metrics", addrs.Metrics)
		if err != nil {
			stopServing()
			_ = servers.Wait()
			return err
		}
		mux := NewHTTPMux(nil, ready, reg)
		servers.Go(func() error { return ServeHTTP(sctx, mux, l) })
		log.Info("metrics listening", zap.String("addr", l.Addr().String()))
	}
	servers.Go(func() error { TrackReadiness(sctx, hs, ready); return nil })

	for _, c := range comps {
		compGroup.Go(func() error { return c.Run(cctx) })
	}
	// Stop taking requests first, then let the components drain.
	var runErr error
	select {
	case <-ctx.Done():
	case <-cctx.Done():
	case <-sctx.Done():
	}
	stopServing()
	serveErr := servers.Wait()
	stopComps()
	runErr = compGroup.Wait()
	if err := errors.Join(runErr, serveErr); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}
