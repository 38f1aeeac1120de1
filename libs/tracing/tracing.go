// Package tracing sets up OpenTelemetry tracing: the OTLP exporter when an
// endpoint is configured, and W3C trace context, which Falcon carries from
// the API through the Kafka record headers of every event to the read model
// and to the legacy system.
package tracing

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config is the tracing configuration block.
type Config struct {
	// OTLPEndpoint is the OTLP/gRPC collector (host:port, or
	// http(s)://host:port); empty: no spans are recorded, but trace context
	// still passes through (a caller's traceparent reaches the events).
	OTLPEndpoint string
	// Insecure sends spans without TLS (a collector on the node or in the
	// pod, or http:// in the endpoint).
	Insecure bool
	// SampleRatio is the share of new traces recorded; a caller's sampling
	// decision is kept.
	SampleRatio float64
}

// RegisterFlags adds the tracing flags to fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.OTLPEndpoint, "otlp-endpoint", "", "OpenTelemetry collector for traces, OTLP over gRPC (host:port or http[s]://host:port); empty: tracing off (trace context still passes through)")
	fs.BoolVar(&c.Insecure, "otlp-insecure", false, "send traces without TLS (implied by an http:// endpoint)")
	fs.Float64Var(&c.SampleRatio, "trace-sample-ratio", 1, "share (0-1) of new traces recorded; a caller's sampling decision is kept")
}

// Validate checks the block.
func (c Config) Validate() error {
	if c.SampleRatio < 0 || c.SampleRatio > 1 {
		return fmt.Errorf("--trace-sample-ratio=%v: want a share between 0 and 1", c.SampleRatio)
	}
	if c.OTLPEndpoint == "" {
		return nil
	}
	if _, _, err := c.target(); err != nil {
		return err
	}
	return nil
}

// target is the collector's host:port and whether to use TLS.
func (c Config) target() (string, bool, error) {
	e := c.OTLPEndpoint
	if !strings.Contains(e, "://") {
		return e, !c.Insecure, nil
	}
	u, err := url.Parse(e)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", false, fmt.Errorf("--otlp-endpoint=%q: want host:port or http(s)://host:port", e)
	}
	return u.Host, u.Scheme == "https" && !c.Insecure, nil
}

// Tracing is what a program traces with.
type Tracing struct {
	Provider trace.TracerProvider
	// Shutdown sends the spans not yet exported; at exit.
	Shutdown func(context.Context) error
}

// Records says whether tp makes spans: false for Off's provider, whose
// only work is to pass a caller's trace context through.
func Records(tp trace.TracerProvider) bool {
	_, off := tp.(noop.TracerProvider)
	return !off
}

// Off traces nothing and passes trace context through: tests and tools.
func Off() Tracing {
	return Tracing{Provider: noop.NewTracerProvider(), Shutdown: func(context.Context) error { return nil }}
}

// New returns the program's tracing: Off without an endpoint, else batches
// of spans sent to the collector, named by service.
func New(ctx context.Context, c Config, service string) (Tracing, error) {
	if err := c.Validate(); err != nil {
		return Tracing{}, err
	}
	if c.OTLPEndpoint == "" {
		return Off(), nil
	}
	host, secure, _ := c.target()
	opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(host)}
	if !secure {
		opts = append(opts, otlptracegrpc.WithInsecure())
	}
	// The exporter connects lazily and retries on its own: a collector that
	// is down loses spans, never requests.
	exp, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return Tracing{}, fmt.Errorf("--otlp-endpoint=%s: %w", c.OTLPEndpoint, err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(service)))
	if err != nil && !errors.Is(err, resource.ErrSchemaURLConflict) {
		return Tracing{}, fmt.Errorf("trace resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Second)),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.SampleRatio))),
	)
	return Tracing{Provider: tp, Shutdown: tp.Shutdown}, nil
}

// Propagator is W3C trace context (traceparent, tracestate): what the APIs
// read from callers, the events carry in their record headers and the
// forwarder sends to the legacy system.
func Propagator() propagation.TextMapPropagator { return propagation.TraceContext{} }
