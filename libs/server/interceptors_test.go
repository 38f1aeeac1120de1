package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/falcon-chat/falcon/libs/auth"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

func testChain(log *zap.Logger) grpc.UnaryServerInterceptor {
	ic := newInterceptors(observing{log: log, metrics: newRPCMetrics(prometheus.NewRegistry()), accessLog: true}, auth.Dev{}, nil)
	return chainUnary(ic.unary...)
}

func TestIdentityOnEveryCallButHealthAndReflection(t *testing.T) {
	chain := testChain(zap.NewNop())
	handler := func(ctx context.Context, _ any) (any, error) {
		a, _ := auth.Account(ctx)
		return a, nil
	}
	const getThread = "/falcon.v1.ThreadQueryService/GetThread"
	cases := []struct {
		name   string
		md     metadata.MD
		method string
		want   string
		code   codes.Code
	}{
		{"identified", metadata.Pairs(auth.AccountHeader, "alice"), getThread, "alice", codes.OK},
		{"no identity", metadata.MD{}, getThread, "", codes.Unauthenticated},
		{"blank identity", metadata.Pairs(auth.AccountHeader, " "), getThread, "", codes.Unauthenticated},
		{"health needs none", metadata.MD{}, "/grpc.health.v1.Health/Check", "", codes.OK},
		{"reflection needs none", metadata.MD{}, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "", codes.OK},
		{"no exemption for a made-up internal service", metadata.MD{}, "/falcon.internal.Anything/Do", "", codes.Unauthenticated},
		{"no exemption for a look-alike", metadata.MD{}, "/grpc.health.v1.HealthX/Check", "", codes.Unauthenticated},
		{"markup as an account", metadata.Pairs(auth.AccountHeader, "<script>alert(1)</script>"), getThread, "", codes.Unauthenticated},
		{"spaces inside an account", metadata.Pairs(auth.AccountHeader, "bob smith"), getThread, "", codes.Unauthenticated},
		{"a 600 KB account", metadata.Pairs(auth.AccountHeader, strings.Repeat("a", 600<<10)), getThread, "", codes.Unauthenticated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := metadata.NewIncomingContext(context.Background(), tc.md)
			ctx = grpc.NewContextWithServerTransportStream(ctx, &inProcessStream{method: tc.method})
			got, err := chain(ctx, nil, &grpc.UnaryServerInfo{FullMethod: tc.method}, handler)
			if status.Code(err) != tc.code {
				t.Fatalf("code %v, want %v (%v)", status.Code(err), tc.code, err)
			}
			if len(status.Convert(err).Message()) > 300 {
				t.Fatalf("the error echoes the input: %d bytes", len(status.Convert(err).Message()))
			}
			if err == nil && got != tc.want {
				t.Fatalf("account %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPanicsBecomeInternalAndAreLoggedOnce(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	chain := testChain(zap.New(core))
	const method = "/falcon.v1.ThreadQueryService/GetThread"
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(auth.AccountHeader, "alice"))
	ctx = grpc.NewContextWithServerTransportStream(ctx, &inProcessStream{method: method})
	_, err := chain(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method},
		func(context.Context, any) (any, error) { panic("boom") })
	if status.Code(err) != codes.Internal || !strings.Contains(status.Convert(err).Message(), method) {
		t.Fatalf("got %v, want Internal naming the method", err)
	}
	if n := logs.FilterMessage("handler panicked").Len(); n != 1 {
		t.Errorf("the panic was logged %d times, want once", n)
	}
	access := logs.FilterMessage("finished call").All()
	if len(access) != 1 || access[0].ContextMap()["grpc.code"] != "Internal" || access[0].Level != zapcore.ErrorLevel {
		t.Errorf("access log %v, want one error line with grpc.code Internal", access)
	}
}

// TestAccessLogOneLinePerRequest: every call, gRPC or REST, gets one line
// with what an operator looks for, and none holds a body or a token.
func TestAccessLogOneLinePerRequest(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	r := serveComponent(t, func(s *Serving) { s.Log, s.AccessLog = zap.New(core), true }, probeAPI{})
	waitHTTP(t, http.DefaultClient, "http://"+r.admin+"/readyz")
	const secret = "s3cret-body-text"

	// gRPC, identified and not.
	c := grpcClient(t, r.grpc)
	ctx := metadata.AppendToOutgoingContext(context.Background(), auth.AccountHeader, "alice", "authorization", "Bearer tok-XYZ")
	if _, err := c.ListThreads(ctx, &falconv1.ListThreadsRequest{Filter: secret}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListThreads(context.Background(), &falconv1.ListThreadsRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("without identity: %v", err)
	}
	// A stream, logged when it ends.
	st, err := c.Subscribe(ctx, &falconv1.SubscribeRequest{Cursor: secret})
	if err == nil {
		_, err = st.Recv()
	}
	if status.Code(err) != codes.OutOfRange {
		t.Fatalf("subscribe: %v", err)
	}
	// REST, identified and not, and a route that does not exist.
	for _, q := range []struct{ path, account string }{
		{"/v1/threads?filter=" + secret, "alice"}, {"/v1/threads/01J0000000000000000000000T/messages/01J0000000000000000000000M", "bob"},
		{"/v1/threads", ""}, {"/v2/nothing", "alice"},
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+r.http+q.path, nil)
		if q.account != "" {
			req.Header.Set(auth.AccountHeader, q.account)
		}
		req.Header.Set("Authorization", "Bearer tok-XYZ")
		req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	var lines []string
	for _, e := range logs.All() {
		if e.LoggerName != "access" {
			continue
		}
		m := e.ContextMap()
		line := fmt.Sprint(m)
		if strings.Contains(line, secret) || strings.Contains(line, "tok-XYZ") {
			t.Errorf("an access log line holds a body or a token: %v", m)
		}
		if m["protocol"] == "http" {
			lines = append(lines, fmt.Sprintf("http %v %v %v %v trace=%v", m["http.method"], m["http.route"], m["http.status"], m["account"], m["trace_id"]))
		} else {
			lines = append(lines, fmt.Sprintf("grpc %v %v %v %v %v %v", m["grpc.service"], m["grpc.method"], m["grpc.method_type"], m["grpc.code"], m["account"], e.Level))
			if m["peer.address"] == nil || m["grpc.duration"] == nil || m["grpc.start_time"] == nil {
				t.Errorf("a gRPC access line lacks the peer, the duration or the start: %v", m)
			}
		}
	}
	want := []string{
		"grpc falcon.v1.ThreadQueryService ListThreads unary OK alice info",
		"grpc falcon.v1.ThreadQueryService ListThreads unary Unauthenticated <nil> info",
		"grpc falcon.v1.ThreadQueryService Subscribe server_stream OutOfRange alice warn",
		"http GET /v1/threads 200 alice trace=4bf92f3577b34da6a3ce929d0e0e4736",
		"http GET /v1/threads/{thread_id}/messages/{message_id} 200 bob trace=4bf92f3577b34da6a3ce929d0e0e4736",
		"http GET /v1/threads 401 <nil> trace=4bf92f3577b34da6a3ce929d0e0e4736",
		"http GET unmatched 404 <nil> trace=4bf92f3577b34da6a3ce929d0e0e4736",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("access log:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestLogLevelChangesAtRunTime: PUT /log/level on the admin listener
// changes what is logged from then on.
func TestLogLevelChangesAtRunTime(t *testing.T) {
	level := zap.NewAtomicLevelAt(zapcore.InfoLevel)
	r := serveWith(t, func(s *Serving) { s.Admin.LogLevel = &level })
	waitHTTP(t, http.DefaultClient, "http://"+r.admin+"/readyz")
	req, _ := http.NewRequest(http.MethodPut, "http://"+r.admin+"/log/level", strings.NewReader(`{"level":"debug"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || level.Level() != zapcore.DebugLevel {
		t.Fatalf("PUT /log/level: %d %s; level now %v", resp.StatusCode, b, level.Level())
	}
	req, _ = http.NewRequest(http.MethodPut, "http://"+r.admin+"/log/level", strings.NewReader(`{"level":"loud"}`))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || level.Level() != zapcore.DebugLevel {
		t.Fatalf("an unknown level: %d; level now %v", resp.StatusCode, level.Level())
	}
	if resp, err := http.Get("http://" + r.http + "/log/level"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("/log/level on the REST listener: %d, want 404", resp.StatusCode)
		}
	}
}

// TestReflectionOnlyWhenAsked: grpcurl can list the services without the
// protos, unless reflection is turned off.
func TestReflectionOnlyWhenAsked(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint(on), func(t *testing.T) {
			r := serveComponent(t, func(s *Serving) { s.Reflection = on }, probeAPI{})
			waitHTTP(t, http.DefaultClient, "http://"+r.admin+"/readyz")
			conn, err := grpc.NewClient(r.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			// A server without reflection may end the stream before Send
			// returns: Send then says io.EOF and Recv carries the status.
			if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil && !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			resp, err := stream.Recv()
			if !on {
				if status.Code(err) != codes.Unimplemented {
					t.Fatalf("reflection off: %v, want Unimplemented", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range resp.GetListServicesResponse().GetService() {
				names = append(names, s.GetName())
			}
			if !strings.Contains(strings.Join(names, " "), "falcon.v1.ThreadQueryService") {
				t.Fatalf("reflection lists %v", names)
			}
		})
	}
}
