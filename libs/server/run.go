package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// DrainTimeout bounds how long shutdown waits for in-flight requests.
const DrainTimeout = 10 * time.Second

// Listen opens a TCP listener, with an error that names the flag's address.
func Listen(what, addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for %s on %s: %w", what, addr, err)
	}
	return l, nil
}

// ServeGRPC serves on every listener until ctx ends, then stops
// gracefully: in-flight RPCs finish (bounded by DrainTimeout).
func ServeGRPC(ctx context.Context, log *zap.Logger, s *grpc.Server, ls ...net.Listener) error {
	errc := make(chan error, len(ls))
	for _, l := range ls {
		go func() {
			if err := s.Serve(l); err != nil {
				errc <- fmt.Errorf("gRPC server on %s: %w", l.Addr(), err)
			}
		}()
	}
	select {
	case err := <-errc:
		s.Stop()
		return err
	case <-ctx.Done():
	}
	done := make(chan struct{})
	go func() { s.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(DrainTimeout):
		log.Warn("gRPC drain timed out; closing remaining connections", zap.Duration("timeout", DrainTimeout))
		s.Stop()
	}
	return nil
}

// ServeHTTP serves until ctx ends, then shuts down gracefully; with a TLS
// configuration, HTTPS only (HTTP/2 and 1.1). Reading a request, writing
// an answer and idling between requests are bounded by lim, so a slow
// client cannot hold a connection.
func ServeHTTP(ctx context.Context, log *zap.Logger, h http.Handler, l net.Listener, lim Limits, tlsConfig *tls.Config) error {
	lim = lim.orDefaults()
	// Handshake failures and malformed requests are the clients' doing.
	errLog, err := zap.NewStdLogAt(log.Named("http"), zap.DebugLevel)
	if err != nil {
		return err
	}
	s := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(10*time.Second, lim.ReadTimeout),
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		TLSConfig:         tlsConfig,
		ErrorLog:          errLog,
	}
	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- s.ServeTLS(l, "", "")
			return
		}
		errc <- s.Serve(l)
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("HTTP server on %s: %w", l.Addr(), err)
	case <-ctx.Done():
	}
	// The drain runs after ctx ended: it needs a deadline of its own.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DrainTimeout)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("HTTP shutdown on %s: %w", l.Addr(), err)
	}
	return nil
}

// TrackReadiness keeps the gRPC health status in step with ready until ctx
// ends, then reports NOT_SERVING.
func TrackReadiness(ctx context.Context, hs *health.Server, ready ReadyFunc) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		st := healthpb.HealthCheckResponse_SERVING
		if ready() != nil {
			st = healthpb.HealthCheckResponse_NOT_SERVING
		}
		hs.SetServingStatus("", st)
		select {
		case <-ctx.Done():
			hs.Shutdown()
			return
		case <-t.C:
		}
	}
}
