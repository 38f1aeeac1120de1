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
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestHTTPMux(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewRPCMetrics(reg)
	_, _ = m.interceptor(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/x.Y/Z"},
		func(context.Context, any) (any, error) { return nil, nil })
	notReady := errors.New("partition 3 is still loading")
	ready := error(nil)
	mux := NewHTTPMux(nil, func() error { return ready }, reg)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	cases := []struct {
		path     string
		notReady bool
		code     int
		contains string
	}{
		{"/healthz", false, 200, "ok"},
		{"/readyz", false, 200, "ready"},
		{"/readyz", true, 503, "partition 3 is still loading"},
		{"/healthz", true, 200, "ok"},
		{"/metrics", false, 200, `falcon_grpc_requests_total{code="OK",method="/x.Y/Z"} 1`},
		{"/openapi.json", false, 200, `"/v1/threads/{threadId}/messages"`},
	}
	for _, c := range cases {
		ready = nil
		if c.notReady {
			ready = notReady
		}
		code, body := get(c.path)
		if code != c.code || !strings.Contains(body, c.contains) {
			t.Errorf("GET %s (ready: %v): %d %q, want %d containing %q", c.path, ready, code, body, c.code, c.contains)
		}
	}
}

func TestRecoveryTurnsPanicsIntoInternal(t *testing.T) {
	_, err := recovery(zap.NewNop())(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/x.Y/Boom"},
		func(context.Context, any) (any, error) { panic("boom") })
	if status.Code(err) != codes.Internal || !strings.Contains(status.Convert(err).Message(), "/x.Y/Boom") {
		t.Fatalf("got %v, want Internal naming the method", err)
	}
}
