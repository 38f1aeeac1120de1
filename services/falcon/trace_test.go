package main_test

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/falcon-chat/falcon/libs/auth"
	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/flagenv"
	"github.com/falcon-chat/falcon/libs/pebblestore"
	"github.com/falcon-chat/falcon/libs/server"
	"github.com/falcon-chat/falcon/libs/testenv"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
	"github.com/falcon-chat/falcon/services/read-model-updater/updater"
	"github.com/falcon-chat/falcon/services/sparrow-forwarder/forwarder"
	"github.com/falcon-chat/falcon/services/write-api/writeapi"
)

// legacyDelivery is what the legacy stand-in of TestOneTraceFromAPIToLegacy
// received: the payload and the trace it was sent in.
type legacyDelivery struct {
	payload     map[string]any
	traceparent string
}

// TestOneTraceFromAPIToLegacy follows one command, over gRPC and over REST,
// through write-api, the Kafka record headers, the read-model-updater and
// the forwarder to the legacy system, with an in-memory span exporter: the
// delivery continues the request's trace and sends it on (traceparent), the
// updater's batch links to it, and the event names its correlation id.
func TestOneTraceFromAPIToLegacy(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	var mu sync.Mutex
	var got []legacyDelivery
	legacy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p map[string]any
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, legacyDelivery{payload: p, traceparent: r.Header.Get("traceparent")})
		mu.Unlock()
	}))
	t.Cleanup(legacy.Close)

	ls, err := server.Addrs{GRPC: "127.0.0.1:0", HTTP: "127.0.0.1:0", Metrics: "127.0.0.1:0"}.Listen()
	if err != nil {
		t.Fatal(err)
	}
	var wcfg writeapi.Config
	var ucfg updater.Config
	var fcfg forwarder.Config
	for _, register := range []func(*flag.FlagSet){wcfg.RegisterFlags, ucfg.RegisterFlags, fcfg.RegisterFlags} {
		register(flag.NewFlagSet("defaults", flag.ContinueOnError))
	}
	log, reg := testenv.Logger(t), prometheus.NewRegistry()
	kafka := eventlog.Config{Brokers: flagenv.List{testenv.Kafka(t)}, Topic: testenv.Name(t, "trace"), Metrics: eventlog.ClientMetrics(reg)}
	wcfg.Kafka, ucfg.Kafka, fcfg.Kafka = kafka, kafka, kafka
	ucfg.Group, fcfg.Group = testenv.Name(t, "updater"), testenv.Name(t, "forwarder")
	wcfg.Partitions = 2
	wcfg.GRPCAddr, wcfg.AdvertiseAddr = ls.GRPC.Addr().String(), ls.GRPC.Addr().String()
	fcfg.LegacyURL = legacy.URL
	store, err := pebblestore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w, err := writeapi.New(wcfg, log, reg, tp)
	if err != nil {
		t.Fatal(err)
	}
	u, err := updater.New(ucfg, store, log, reg, tp)
	if err != nil {
		t.Fatal(err)
	}
	f, err := forwarder.New(fcfg, log, reg, tp)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- server.Run(runCtx, server.Serving{Log: log, Authn: auth.Dev{}, Registry: reg, Listeners: ls, Tracer: tp}, w, u, f)
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		_ = store.Close()
	})
	waitReady(t, ls.Metrics.Addr().String())

	// gRPC: the server starts the trace.
	conn, err := grpc.NewClient(ls.GRPC.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	created, err := falconv1.NewThreadCommandServiceClient(conn).CreateThread(
		metadata.AppendToOutgoingContext(ctx, auth.AccountHeader, "alice"),
		&falconv1.CreateThreadRequest{Title: "traced", MemberIds: []string{"bob"}})
	if err != nil {
		t.Fatal(err)
	}
	// REST: the caller's trace and correlation id are continued.
	callerTrace := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:  trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}, TraceFlags: trace.FlagsSampled, Remote: true})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+ls.HTTP.Addr().String()+"/v1/threads/"+created.GetThreadId()+"/messages",
		strings.NewReader(`{"body":"hello"}`))
	req.Header.Set(auth.AccountHeader, "alice")
	req.Header.Set("X-Correlation-Id", "corr-42")
	propagation.TraceContext{}.Inject(trace.ContextWithRemoteSpanContext(ctx, callerTrace), propagation.HeaderCarrier(req.Header))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST message: %d %s", resp.StatusCode, b)
	}

	delivered := func(eventType string) (legacyDelivery, bool) {
		mu.Lock()
		defer mu.Unlock()
		for _, d := range got {
			if d.payload["eventType"] == eventType {
				return d, true
			}
		}
		return legacyDelivery{}, false
	}
	testenv.Eventually(t, time.Minute, "both events at the legacy system", func() bool {
		_, a := delivered("ThreadCreated")
		_, b := delivered("MessagePosted")
		return a && b
	})
	spanNamed := func(name string, in trace.TraceID) (tracetest.SpanStub, bool) {
		for _, s := range exp.GetSpans() {
			if s.Name == name && s.SpanContext.TraceID() == in {
				return s, true
			}
		}
		return tracetest.SpanStub{}, false
	}
	linkedBatch := func(to trace.SpanContext) bool {
		for _, s := range exp.GetSpans() {
			for _, l := range s.Links {
				if s.Name == "apply events" && l.SpanContext.SpanID() == to.SpanID() && l.SpanContext.TraceID() == to.TraceID() {
					return true
				}
			}
		}
		return false
	}

	var grpcSpan tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == "falcon.v1.ThreadCommandService/CreateThread" && s.SpanKind == trace.SpanKindServer {
			grpcSpan = s
		}
	}
	if !grpcSpan.SpanContext.IsValid() {
		t.Fatalf("no server span for CreateThread among %d spans", len(exp.GetSpans()))
	}
	cases := []struct {
		name, eventType string
		request         trace.SpanContext // the span the event's record carries
		correlation     string
	}{
		{"gRPC", "ThreadCreated", grpcSpan.SpanContext, grpcSpan.SpanContext.TraceID().String()},
	}
	restSpan, ok := spanNamed("POST /v1/threads/{thread_id}/messages", callerTrace.TraceID())
	if !ok {
		var names []string
		for _, s := range exp.GetSpans() {
			names = append(names, s.Name+" "+s.SpanContext.TraceID().String())
		}
		t.Fatalf("no REST span continuing the caller's trace %s among %s", callerTrace.TraceID(), strings.Join(names, ", "))
	}
	if restSpan.Parent.SpanID() != callerTrace.SpanID() {
		t.Errorf("the REST span's parent is %s, want the caller's span %s", restSpan.Parent.SpanID(), callerTrace.SpanID())
	}
	cases = append(cases, struct {
		name, eventType string
		request         trace.SpanContext
		correlation     string
	}{"REST", "MessagePosted", restSpan.SpanContext, "corr-42"})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tid := c.request.TraceID()
			d, _ := delivered(c.eventType)
			if d.payload["correlationId"] != c.correlation {
				t.Errorf("the event's correlation id is %v, want %s", d.payload["correlationId"], c.correlation)
			}
			// The legacy system has the event before the forwarder's span
			// of the delivery ends.
			var deliver tracetest.SpanStub
			testenv.Eventually(t, time.Minute, "a delivery span in trace "+tid.String(), func() bool {
				var ok bool
				deliver, ok = spanNamed("deliver "+c.eventType, tid)
				return ok
			})
			if deliver.Parent.SpanID() != c.request.SpanID() {
				t.Errorf("the delivery's parent is %s, want the request's span %s (carried in the record headers)", deliver.Parent.SpanID(), c.request.SpanID())
			}
			sent := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(),
				propagation.MapCarrier{"traceparent": d.traceparent}))
			if sent.TraceID() != tid {
				t.Errorf("the legacy system received traceparent %q, want trace %s", d.traceparent, tid)
			}
			testenv.Eventually(t, time.Minute, "the updater's batch span linked to the request", func() bool { return linkedBatch(c.request) })
		})
	}
}
