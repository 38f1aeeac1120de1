package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/falcon-chat/falcon/libs/auth"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// probeAPI answers what its handlers see of the call: GetThread panics,
// ListThreads says who called, how and in which trace, GetMessage sets a header and a
// trailer, Subscribe refuses every cursor.
type probeAPI struct {
	falconv1.UnimplementedThreadQueryServiceServer
}

func (probeAPI) Run(ctx context.Context) error { <-ctx.Done(); return nil }

func (p probeAPI) RegisterGRPC(s grpc.ServiceRegistrar) {
	falconv1.RegisterThreadQueryServiceServer(s, p)
}

func (probeAPI) Gateway() []RegisterFunc {
	return []RegisterFunc{func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
		return falconv1.RegisterThreadQueryServiceHandlerClient(ctx, mux, falconv1.NewThreadQueryServiceClient(conn))
	}}
}

func (probeAPI) GetThread(context.Context, *falconv1.GetThreadRequest) (*falconv1.GetThreadResponse, error) {
	panic("a handler bug")
}

func (probeAPI) ListThreads(ctx context.Context, r *falconv1.ListThreadsRequest) (*falconv1.ListThreadsResponse, error) {
	who, _ := auth.Account(ctx)
	from := "no peer"
	if p, ok := peer.FromContext(ctx); ok {
		from = p.Addr.String()
	}
	in, _ := metadata.FromIncomingContext(ctx)
	out, _ := metadata.FromOutgoingContext(ctx)
	method, _ := grpc.Method(ctx)
	return &falconv1.ListThreadsResponse{NextPageToken: fmt.Sprintf("account=%s peer=%q method=%s filter=%s x-forwarded-for=%v outgoing=%d trace=%s",
		who, from, method, r.Filter, in.Get("x-forwarded-for") != nil, len(out), trace.SpanContextFromContext(ctx).TraceID())}, nil
}

func (probeAPI) Subscribe(*falconv1.SubscribeRequest, grpc.ServerStreamingServer[falconv1.AccountEvent]) error {
	return status.Error(codes.OutOfRange, "the cursor is too old")
}

func (probeAPI) GetMessage(ctx context.Context, r *falconv1.GetMessageRequest) (*falconv1.GetMessageResponse, error) {
	if err := grpc.SetHeader(ctx, metadata.Pairs("x-probe", "header")); err != nil {
		return nil, err
	}
	if err := grpc.SetTrailer(ctx, metadata.Pairs("x-probe-end", "trailer")); err != nil {
		return nil, err
	}
	return &falconv1.GetMessageResponse{Message: &falconv1.Message{MessageId: r.MessageId}}, nil
}

// TestRESTCallsRunInProcess: a REST call runs the service's handler in
// process, through the same interceptors as a gRPC call: identity, metrics
// (a panic counted as the Internal it becomes) and recovery apply; the handler sees the caller as on the network, and
// its headers and trailers reach the HTTP response.
func TestRESTCallsRunInProcess(t *testing.T) {
	r := serveComponent(t, func(*Serving) {}, probeAPI{})
	waitHTTP(t, http.DefaultClient, "http://"+r.admin+"/readyz")
	base := "http://" + r.http

	type answer struct {
		StatusCode      int
		Header, Trailer http.Header
	}
	get := func(path string, account string) (answer, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if account != "" {
			req.Header.Set(auth.AccountHeader, account)
		}
		req.Header.Set("TE", "trailers") // the gateway sends trailers to clients that ask

		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body) // trailers arrive with the end of the body
		return answer{resp.StatusCode, resp.Header, resp.Trailer}, string(b)
	}

	resp, body := get("/v1/threads?filter=x", "alice")
	want := `account=alice peer=\"in-process REST gateway\" method=/falcon.v1.ThreadQueryService/ListThreads filter=x x-forwarded-for=true outgoing=0`
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, want) {
		t.Errorf("ListThreads: %d %s; want the handler to see %s", resp.StatusCode, body, want)
	}
	// A client that does not ask for trailers (a browser) is told the
	// length of a body too large to buffer ahead of it: no chunk framing,
	// fewer writes.
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/threads?filter="+strings.Repeat("x", 6000), nil)
	req.Header.Set(auth.AccountHeader, "alice")
	plain, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(plain.Body)
	plain.Body.Close()
	if plain.ContentLength != int64(len(b)) || len(b) < 6000 || len(plain.TransferEncoding) != 0 {
		t.Errorf("ListThreads without TE: trailers: Content-Length %d, transfer encoding %v, %d bytes; want the length ahead", plain.ContentLength, plain.TransferEncoding, len(b))
	}
	if resp, body := get("/v1/threads", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without an identity: %d %s, want 401", resp.StatusCode, body)
	}
	if resp, body := get("/v1/threads/01J0000000000000000000000T", "alice"); resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, "it was logged") {
		t.Errorf("a panicking handler: %d %s, want 500", resp.StatusCode, body)
	}
	resp, body = get("/v1/threads/01J0000000000000000000000T/messages/01J0000000000000000000000M", "alice")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Grpc-Metadata-X-Probe") != "header" || resp.Trailer.Get("Grpc-Trailer-X-Probe-End") != "trailer" {
		t.Errorf("GetMessage: %d %s, headers %v, trailers %v; want the handler's header and trailer", resp.StatusCode, body, resp.Header, resp.Trailer)
	}

	// The calls were counted as gRPC calls are, with their codes.
	mresp, err := http.Get("http://" + r.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer mresp.Body.Close()
	b, _ = io.ReadAll(mresp.Body)
	for _, line := range []string{
		`grpc_server_handled_total{grpc_code="OK",grpc_method="ListThreads",grpc_service="falcon.v1.ThreadQueryService",grpc_type="unary"} 2`,
		`grpc_server_handled_total{grpc_code="Unauthenticated",grpc_method="ListThreads",grpc_service="falcon.v1.ThreadQueryService",grpc_type="unary"} 1`,
		`grpc_server_handled_total{grpc_code="Internal",grpc_method="GetThread",grpc_service="falcon.v1.ThreadQueryService",grpc_type="unary"} 1`,
		`grpc_server_handled_total{grpc_code="OK",grpc_method="GetMessage",grpc_service="falcon.v1.ThreadQueryService",grpc_type="unary"} 1`,
	} {
		if !strings.Contains(string(b), line) {
			t.Errorf("metrics lack %s", line)
		}
	}
}

// TestTraceContextPassesThroughWithTracingOff: a process that makes no
// spans still hands a caller's trace (traceparent) to its handlers, over
// gRPC and REST, so that the events they append carry it on.
func TestTraceContextPassesThroughWithTracingOff(t *testing.T) {
	r := serveComponent(t, func(*Serving) {}, probeAPI{})
	waitHTTP(t, http.DefaultClient, "http://"+r.admin+"/readyz")
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	const want = "trace=4bf92f3577b34da6a3ce929d0e0e4736"

	ctx := metadata.AppendToOutgoingContext(context.Background(), auth.AccountHeader, "alice", "traceparent", parent)
	resp, err := grpcClient(t, r.grpc).ListThreads(ctx, &falconv1.ListThreadsRequest{})
	if err != nil || !strings.HasSuffix(resp.NextPageToken, want) {
		t.Errorf("gRPC: the handler saw %q, %v; want %s", resp.GetNextPageToken(), err, want)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+r.http+"/v1/threads", nil)
	req.Header.Set(auth.AccountHeader, "alice")
	req.Header.Set("traceparent", parent)
	hresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer hresp.Body.Close()
	b, _ := io.ReadAll(hresp.Body)
	if !strings.Contains(string(b), want) {
		t.Errorf("REST: the handler saw %s; want %s", b, want)
	}
	// Without a traceparent, no trace.
	resp, err = grpcClient(t, r.grpc).ListThreads(metadata.AppendToOutgoingContext(context.Background(), auth.AccountHeader, "alice"), &falconv1.ListThreadsRequest{})
	if err != nil || !strings.HasSuffix(resp.NextPageToken, "trace=00000000000000000000000000000000") {
		t.Errorf("gRPC without traceparent: the handler saw %q, %v", resp.GetNextPageToken(), err)
	}
}
