package tracing

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func TestConfig(t *testing.T) {
	cases := []struct {
		c      Config
		ok     bool
		host   string
		secure bool
	}{
		{Config{SampleRatio: 1}, true, "", false},
		{Config{OTLPEndpoint: "otel-collector:4317", SampleRatio: 0.1}, true, "otel-collector:4317", true},
		{Config{OTLPEndpoint: "otel-collector:4317", Insecure: true, SampleRatio: 1}, true, "otel-collector:4317", false},
		{Config{OTLPEndpoint: "http://127.0.0.1:4317", SampleRatio: 1}, true, "127.0.0.1:4317", false},
		{Config{OTLPEndpoint: "https://collector.example.com:443", SampleRatio: 1}, true, "collector.example.com:443", true},
		{Config{OTLPEndpoint: "ftp://collector", SampleRatio: 1}, false, "", false},
		{Config{OTLPEndpoint: "http://", SampleRatio: 1}, false, "", false},
		{Config{SampleRatio: 1.5}, false, "", false},
		{Config{SampleRatio: -0.1}, false, "", false},
	}
	for _, c := range cases {
		err := c.c.Validate()
		if (err == nil) != c.ok {
			t.Errorf("%+v: %v, want ok=%v", c.c, err, c.ok)
			continue
		}
		if err != nil || c.c.OTLPEndpoint == "" {
			continue
		}
		host, secure, _ := c.c.target()
		if host != c.host || secure != c.secure {
			t.Errorf("%+v: %s secure=%v, want %s secure=%v", c.c, host, secure, c.host, c.secure)
		}
	}
}

// TestNewWithoutAnEndpointRecordsNothing: tracing is off by default, but a
// caller's trace passes through.
func TestNewWithoutAnEndpointRecordsNothing(t *testing.T) {
	tr, err := New(context.Background(), Config{SampleRatio: 1}, "test")
	if err != nil {
		t.Fatal(err)
	}
	_, span := tr.Provider.Tracer("t").Start(context.Background(), "x")
	if span.IsRecording() {
		t.Fatal("a span is recorded without an endpoint")
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// With an endpoint, nothing is dialled until spans are sent.
	tr, err = New(context.Background(), Config{OTLPEndpoint: "127.0.0.1:1", Insecure: true, SampleRatio: 1}, "test")
	if err != nil {
		t.Fatal(err)
	}
	_, span = tr.Provider.Tracer("t").Start(context.Background(), "x")
	if !span.IsRecording() {
		t.Fatal("a span is not recorded with an endpoint")
	}
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	_ = tr.Shutdown(ctx) // the collector is not there: the spans are lost, nothing hangs
}

// TestRecords: Off's provider makes no spans; an SDK provider does.
func TestRecords(t *testing.T) {
	if Records(Off().Provider) {
		t.Error("Off's provider says it records spans")
	}
	sdk := sdktrace.NewTracerProvider()
	defer sdk.Shutdown(context.Background())
	if !Records(sdk) {
		t.Error("an SDK provider says it records no spans")
	}
}
