package server

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/test/bufconn"

	"github.com/falcon-chat/falcon/libs/auth"
	"github.com/falcon-chat/falcon/libs/tlsfiles"
	"github.com/falcon-chat/falcon/libs/tracing"
)

// Component is one service that runs alone or beside others in one process
// (falcon dev), as Mimir and Loki components do. Run starts it (connecting
// to what it needs, retrying), works until ctx ends, then drains and
// returns. The servers run from the first second, whatever the components
// are doing; what else a component offers it says by implementing Readier,
// GRPCService or RESTService (found by interface assertion, as
// http.Flusher is).
type Component interface {
	Run(ctx context.Context) error
}

// Readier is a component whose readiness is not implied by running.
type Readier interface {
	// Ready is nil once the component can take traffic; else why not.
	Ready() error
}

// GRPCService is a component that serves gRPC services.
type GRPCService interface {
	RegisterGRPC(s grpc.ServiceRegistrar)
}

// Streamer is a component with long-lived streams: at shutdown EndStreams
// ends them (each with what its client needs to resume), so that the
// servers can drain.
type Streamer interface {
	EndStreams()
}

// PageService is a component with pages of its own on the public HTTP
// listener, beside the REST gateway (falcon dev's web client).
type PageService interface {
	Pages(mux *http.ServeMux)
}

// RESTService is a component with REST routes on the gateway.
type RESTService interface {
	Gateway() []RegisterFunc
}

// Common is the configuration every service shares.
type Common struct {
	// Auth is the identity mode; set before RegisterFlags, it is the flag's
	// default (jwt otherwise).
	Auth            string
	InsecureDevAuth bool
	JWT             auth.JWTOptions
	LogLevel        string
	AccessLog       bool
	Reflection      bool
	MetricsAddr     string
	Pprof           bool
	Limits          Limits
	TLS             tlsfiles.Server
	RateLimits      RateLimits
	Tracing         tracing.Config
}

// RegisterFlags adds the flags every service shares to fs.
func (c *Common) RegisterFlags(fs *flag.FlagSet) {
	if c.Auth == "" {
		c.Auth = "jwt"
	}
	fs.StringVar(&c.Auth, "auth", c.Auth, "identity: jwt (Authorization: Bearer) or dev (trusts X-Account-Id; development only, loopback only unless --insecure-dev-auth)")
	fs.BoolVar(&c.InsecureDevAuth, "insecure-dev-auth", false, "allow --auth=dev on a non-loopback address: anyone who reaches it can act as anyone")
	fs.StringVar(&c.JWT.PublicKeyFile, "jwt-public-key-file", "", "--auth=jwt: PEM public key (RSA, ECDSA, Ed25519) of the token issuer, read again when it changes")
	fs.StringVar(&c.JWT.JWKSFile, "jwt-jwks-file", "", "--auth=jwt: JWKS document of the issuer's keys (tokens pick one by kid), read again when it changes")
	fs.StringVar(&c.JWT.JWKSURL, "jwt-jwks-url", "", "--auth=jwt: the issuer's JWKS endpoint (https), cached and fetched again on an unknown kid")
	fs.DurationVar(&c.JWT.JWKSRefresh, "jwt-jwks-refresh", 5*time.Minute, "--auth=jwt: how long a fetched JWKS is kept")
	fs.StringVar(&c.JWT.Issuer, "jwt-issuer", "", "--auth=jwt: the iss every token must carry (required)")
	fs.StringVar(&c.JWT.Audience, "jwt-audience", "", "--auth=jwt: the aud every token must carry (required)")
	fs.DurationVar(&c.JWT.MaxLifetime, "jwt-max-lifetime", auth.DefaultMaxTokenLifetime, "--auth=jwt: longest validity (exp - iat) a token may have")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error (changeable while running: PUT /log/level on the admin listener)")
	fs.BoolVar(&c.AccessLog, "access-log", true, "log every request: method, route, status, duration, account, trace id (never bodies or tokens)")
	fs.BoolVar(&c.Reflection, "grpc-reflection", true, "serve gRPC server reflection, so that grpcurl works without the protos (turn off where the API should not describe itself)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "admin listen address: /metrics, /healthz, /readyz, and /debug/pprof with --pprof (default: the service's own admin address; services without REST serve them on --http-addr)")
	fs.BoolVar(&c.Pprof, "pprof", false, "serve CPU, heap and goroutine profiles at /debug/pprof/ on the admin listener")
	c.Limits.RegisterFlags(fs)
	c.TLS.RegisterFlags(fs)
	c.RateLimits.RegisterFlags(fs)
	c.Tracing.RegisterFlags(fs)
}

// Addrs are where a program's flags say it listens. An empty GRPC means no
// gRPC server (and so no REST gateway). HTTP is the REST listener of a
// service with REST routes; of one without, it is its admin listener.
// Metrics is the admin listener of a service with REST routes: never the
// same as HTTP, which clients reach.
type Addrs struct {
	GRPC    string
	HTTP    string
	Metrics string
}

// Listeners are what Run serves on; a nil one is not served.
type Listeners struct {
	GRPC    net.Listener
	HTTP    net.Listener
	Metrics net.Listener
}

// Listen opens the listeners of addrs; on an error it closes what it
// opened. A Metrics address equal to HTTP is refused for a service with
// REST routes (clients would reach the metrics) and is the same listener
// otherwise.
func (a Addrs) Listen() (Listeners, error) {
	// Port 0 is a fresh port each time: never the same listener.
	same := a.Metrics == a.HTTP && !strings.HasSuffix(a.HTTP, ":0")
	if a.GRPC != "" && a.HTTP != "" && same {
		return Listeners{}, fmt.Errorf("--metrics-addr %s is the REST address: metrics and profiles are never served where clients reach; give the admin listener an address of its own", a.Metrics)
	}
	var ls Listeners
	for _, x := range []struct {
		what, addr string
		l          *net.Listener
	}{{"gRPC", a.GRPC, &ls.GRPC}, {"HTTP", a.HTTP, &ls.HTTP}, {"admin", a.Metrics, &ls.Metrics}} {
		if x.addr == "" || x.what == "admin" && same {
			continue
		}
		l, err := Listen(x.what, x.addr)
		if err != nil {
			ls.Close()
			return Listeners{}, err
		}
		*x.l = l
	}
	return ls, nil
}

// Close closes every listener (Run closes them itself when it serves).
func (ls Listeners) Close() {
	for _, l := range []net.Listener{ls.GRPC, ls.HTTP, ls.Metrics} {
		if l != nil {
			_ = l.Close()
		}
	}
}

// Serving is what Run needs besides the components: where to listen, who
// calls (nil without gRPC), the metrics registry, whether to serve
// profiles, the limits on clients (zero fields: DefaultLimits) and TLS
// (none when empty).
type Serving struct {
	Log       *zap.Logger
	Authn     auth.Authenticator
	Registry  *prometheus.Registry
	Listeners Listeners
	// Admin is what the admin listener offers besides health and metrics.
	Admin Admin
	// AccessLog logs every request.
	AccessLog bool
	// Reflection registers gRPC server reflection.
	Reflection bool
	// Tracer traces every request (nil: traces nothing, passes trace
	// context through).
	Tracer trace.TracerProvider
	Limits Limits
	TLS    tlsfiles.Server
	// RateLimits, when Enabled, are spent by every command and query.
	RateLimits RateLimits
}

// tlsConfigs are the TLS configurations of Run's listeners (all nil
// without TLS): clients of the gRPC and REST listeners show a certificate
// when a client CA is set; the admin listener's (probes, Prometheus) do
// not.
type tlsConfigs struct{ grpc, rest, admin *tls.Config }

func (sv Serving) tlsConfigs() (tlsConfigs, error) {
	var c tlsConfigs
	var err error
	if c.grpc, err = sv.TLS.Config(true, "h2"); err != nil {
		return c, err
	}
	if c.rest, err = sv.TLS.Config(true, "h2", "http/1.1"); err != nil {
		return c, err
	}
	c.admin, err = sv.TLS.Config(false, "h2", "http/1.1")
	return c, err
}

// Run serves the components until ctx ends, then shuts the servers down
// (draining in-flight requests) before stopping the components.
func Run(ctx context.Context, sv Serving, comps ...Component) error {
	log, reg, ls := sv.Log, sv.Registry, sv.Listeners
	if ls.HTTP == nil && ls.Metrics == nil {
		ls.Close()
		return errors.New("no HTTP listener for health and metrics: set --http-addr or --metrics-addr")
	}
	tlsc, err := sv.tlsConfigs()
	if err != nil {
		ls.Close()
		return err
	}
	ready := func() error {
		for _, c := range comps {
			if r, ok := c.(Readier); ok {
				if err := r.Ready(); err != nil {
					return err
				}
			}
		}
		return nil
	}
	hs := health.NewServer()
	lim := sv.Limits.orDefaults()
	tp := sv.Tracer
	if tp == nil {
		tp = tracing.Off().Provider
	}
	// Client connections count against one cap; the admin listener's do not.
	slots := clientConnections(lim.MaxConnections, reg)
	if ls.GRPC != nil {
		ls.GRPC = slots.Wrap(ls.GRPC)
	}
	if ls.HTTP != nil && ls.Metrics != nil {
		ls.HTTP = slots.Wrap(ls.HTTP)
	}
	// The servers and the components outlive ctx: at its end the servers
	// drain first, then the components stop.
	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	servers, sctx := errgroup.WithContext(serveCtx)
	// Components outlive ctx until the servers have drained: in-flight
	// requests still need them.
	compCtx, stopComps := context.WithCancel(context.WithoutCancel(ctx))
	defer stopComps()
	compGroup, cctx := errgroup.WithContext(compCtx)

	var (
		gateways     []RegisterFunc
		gatewayConns *bufconn.Listener
		inProc       *inProcess
	)
	if ls.GRPC != nil {
		var rl *rateLimiter
		if sv.RateLimits.Enabled {
			rl = newRateLimiter(sv.RateLimits, reg)
		}
		obs := observing{log: log, metrics: newRPCMetrics(reg), accessLog: sv.AccessLog}
		ic := newInterceptors(obs, sv.Authn, rl) //nolint:contextcheck // each stream runs on its own context

		gs := newGRPC(ic, hs, lim, sv.Reflection, tp)
		// The REST gateway's calls share one in-memory connection: its
		// streams (server-sent events) are not capped per connection; the
		// HTTP side's connection cap bounds them.
		inMemory := lim
		inMemory.MaxStreams = math.MaxUint32
		gws := newGRPC(ic, hs, inMemory, false, tp)
		// The REST gateway reaches the gRPC server in memory: no port, no
		// TLS to terminate twice, no slot of the connection cap; and its
		// unary calls run in process.
		gatewayConns = bufconn.Listen(1 << 20)
		streams, err := gatewayStreams(tp, func(ctx context.Context, _ string) (net.Conn, error) { return gatewayConns.DialContext(ctx) })
		if err != nil {
			ls.Close()
			return err
		}
		defer func() { _ = streams.Close() }()
		inProc = newInProcess(chainUnary(ic.unary...), streams)
		for _, c := range comps {
			if g, ok := c.(GRPCService); ok {
				g.RegisterGRPC(gs)
				g.RegisterGRPC(gws)
				g.RegisterGRPC(inProc)
			}
			if r, ok := c.(RESTService); ok {
				gateways = append(gateways, r.Gateway()...)
			}
		}
		// Every method's series exist from the start, at zero: a rate or
		// an alert over them has a baseline.
		obs.metrics.InitializeMetrics(gs)
		grpcListeners := []net.Listener{ls.GRPC}
		if tlsc.grpc != nil {
			grpcListeners[0] = tls.NewListener(ls.GRPC, tlsc.grpc)
		}
		servers.Go(func() error { return ServeGRPC(sctx, log, gs, grpcListeners...) })
		servers.Go(func() error { return ServeGRPC(sctx, log, gws, gatewayConns) })
		log.Info("gRPC listening", zap.String("addr", ls.GRPC.Addr().String()), zap.Bool("tls", tlsc.grpc != nil))
	}
	if ls.HTTP != nil {
		mux := adminMux(ready, reg, sv.Admin)
		httpTLS := tlsc.admin
		if len(gateways) > 0 {
			httpTLS = tlsc.rest
			gw, err := NewGateway(ctx, log, inProc, gateways...)
			if err != nil {
				stopServing()
				_ = servers.Wait()
				ls.Close()
				return err
			}
			if sv.AccessLog {
				gw = accessLogHTTP(log, gw)
			}
			gw = traceHTTP(tp, gw)
			mux = publicMux(gw, ready)
			for _, c := range comps {
				if p, ok := c.(PageService); ok {
					p.Pages(mux)
				}
			}
		}
		servers.Go(func() error { return ServeHTTP(sctx, log, mux, ls.HTTP, lim, httpTLS) })
		log.Info("HTTP listening", zap.String("addr", ls.HTTP.Addr().String()), zap.Bool("tls", httpTLS != nil))
	}
	if ls.Metrics != nil {
		mux := adminMux(ready, reg, sv.Admin)
		servers.Go(func() error { return ServeHTTP(sctx, log, mux, ls.Metrics, lim, tlsc.admin) })
		log.Info("admin listening", zap.String("addr", ls.Metrics.Addr().String()), zap.Bool("pprof", sv.Admin.Pprof))
	}
	servers.Go(func() error { TrackReadiness(sctx, hs, ready); return nil })

	for _, c := range comps {
		compGroup.Go(func() error { return c.Run(cctx) })
	}
	// Stop taking requests first, then let the components drain.
	select {
	case <-ctx.Done():
	case <-cctx.Done():
	case <-sctx.Done():
	}
	for _, c := range comps {
		if s, ok := c.(Streamer); ok {
			s.EndStreams()
		}
	}
	stopServing()
	serveErr := servers.Wait()
	stopComps()
	runErr := compGroup.Wait()
	if err := errors.Join(runErr, serveErr); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}
