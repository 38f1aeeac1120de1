package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// TestMetricsAndProfilesOnlyOnTheAdminListener: the public (REST) mux
// serves health and the OpenAPI document but no metrics and no profiles;
// the admin mux serves metrics, and profiles only when asked to.
func TestMetricsAndProfilesOnlyOnTheAdminListener(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newRPCMetrics(reg)
	_, _ = m.UnaryServerInterceptor()(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/x.Y/Z"},
		func(context.Context, any) (any, error) { return nil, nil })
	level := zap.NewAtomicLevelAt(zap.InfoLevel)
	notReady := errors.New("partition 3 is still loading")
	ready := error(nil)
	readyFn := func() error { return ready }
	servers := map[string]*httptest.Server{
		"public":           httptest.NewServer(publicMux(nil, readyFn)),
		"admin":            httptest.NewServer(adminMux(readyFn, reg, Admin{LogLevel: &level})),
		"admin with pprof": httptest.NewServer(adminMux(readyFn, reg, Admin{Pprof: true})),
	}
	for _, s := range servers {
		defer s.Close()
	}
	get := func(server, path string) (int, string) {
		resp, err := http.Get(servers[server].URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	cases := []struct {
		server, path string
		notReady     bool
		code         int
		contains     string
	}{
		{"public", "/healthz", false, 200, "ok"},
		{"public", "/readyz", false, 200, "ready"},
		{"public", "/readyz", true, 503, "partition 3 is still loading"},
		{"public", "/openapi.json", false, 200, `"/v1/threads/{threadId}/messages"`},
		{"public", "/metrics", false, 404, ""},
		{"public", "/debug/pprof/", false, 404, ""},
		{"public", "/debug/pprof/profile?seconds=1", false, 404, ""},
		{"admin", "/healthz", true, 200, "ok"},
		{"admin", "/readyz", true, 503, "partition 3 is still loading"},
		{"admin", "/metrics", false, 200, `grpc_server_handled_total{grpc_code="OK",grpc_method="Z",grpc_service="x.Y",grpc_type="unary"} 1`},
		{"public", "/log/level", false, 404, ""},
		{"admin", "/log/level", false, 200, `{"level":"info"}`},
		{"admin with pprof", "/log/level", false, 404, ""},
		{"admin", "/debug/pprof/", false, 404, ""},
		{"admin with pprof", "/debug/pprof/", false, 200, "goroutine"},
	}
	for _, c := range cases {
		ready = nil
		if c.notReady {
			ready = notReady
		}
		code, body := get(c.server, c.path)
		if code != c.code || !strings.Contains(body, c.contains) {
			t.Errorf("GET %s on %s (ready: %v): %d %q, want %d containing %q", c.path, c.server, ready, code, body, c.code, c.contains)
		}
	}
	if _, err := (Addrs{GRPC: "127.0.0.1:0", HTTP: "127.0.0.1:8080", Metrics: "127.0.0.1:8080"}).Listen(); err == nil ||
		!strings.Contains(err.Error(), "never served where clients reach") {
		t.Fatalf("metrics on the REST address: %v", err)
	}
}

// TestRESTClientsCannotSetInternalMetadata: the gateway passes the identity
// headers on, and no Grpc-Metadata-* header, so a REST client cannot set
// the replicas' forwarding proof or any other metadata they use.
func TestRESTClientsCannotSetInternalMetadata(t *testing.T) {
	cases := []struct {
		header string
		pass   bool
	}{
		{"X-Account-Id", true},
		{"Authorization", true},
		{"Grpc-Metadata-X-Falcon-Forwarded", false},
		{"grpc-metadata-x-falcon-forwarded", false},
		{"Grpc-Metadata-X-Account-Id", false},
	}
	for _, c := range cases {
		if _, ok := incomingHeader(c.header); ok != c.pass {
			t.Errorf("header %s passed=%v, want %v", c.header, ok, c.pass)
		}
	}
}

// TestDevIdentityOnlyOnLoopback: --auth=dev trusts a header anyone can
// send; it is refused on an address others reach unless the operator says
// --insecure-dev-auth.
func TestDevIdentityOnlyOnLoopback(t *testing.T) {
	cases := []struct {
		addrs    Addrs
		insecure bool
		ok       bool
	}{
		{Addrs{GRPC: "127.0.0.1:9090", HTTP: "127.0.0.1:8080"}, false, true},
		{Addrs{GRPC: "[::1]:9090", HTTP: "localhost:8080"}, false, true},
		{Addrs{GRPC: "0.0.0.0:9090", HTTP: "127.0.0.1:8080"}, false, false},
		{Addrs{GRPC: "127.0.0.1:9090", HTTP: ":8080"}, false, false},
		{Addrs{GRPC: "10.0.0.5:9090"}, false, false},
		{Addrs{GRPC: "0.0.0.0:9090", HTTP: "0.0.0.0:8080"}, true, true},
	}
	for _, c := range cases {
		if err := devAuthAllowed(c.addrs, c.insecure); (err == nil) != c.ok {
			t.Errorf("%+v insecure=%v: %v, want ok=%v", c.addrs, c.insecure, err, c.ok)
		}
	}
}
