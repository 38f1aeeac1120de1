package forwarder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/falcon-chat/falcon/libs/legacycontract"
	"github.com/falcon-chat/falcon/libs/tracing"
)

// Delivery is one event on its way to the legacy system.
type Delivery struct {
	EventID string
	Body    []byte
}

// outcome of one attempt.
type outcome int

const (
	delivered outcome = iota
	// rejected: the legacy system refused it for good (4xx other than
	// 408, 409 and 429); retrying cannot help.
	rejected
	// failed: 5xx, 408, 429, a timeout or a connection error; retry.
	failed
	// notAttempted: the circuit breaker is open; nothing was sent.
	notAttempted
)

type attempt struct {
	outcome    outcome
	status     int
	retryAfter time.Duration
	err        error
}

// errTransient marks a failed attempt for the circuit breaker.
var errTransient = errors.New("transient delivery failure")

// poster sends deliveries to the legacy endpoint through a circuit breaker,
// so a dead legacy system is probed, not hammered.
type poster struct {
	url     string
	secret  []byte
	client  *http.Client
	tracer  trace.Tracer
	backoff backoff
	breaker *gobreaker.CircuitBreaker[attempt]
}

func newPoster(cfg Config, onState func(gobreaker.State), tp trace.TracerProvider) *poster {
	p := &poster{
		url: cfg.LegacyURL,
		client: &http.Client{Timeout: cfg.Timeout, Transport: &http.Transport{
			// One connection per delivery in flight, kept open.
			MaxIdleConns: 1024, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second}},
		tracer:  tp.Tracer("github.com/falcon-chat/falcon/services/sparrow-forwarder/poster"),
		backoff: backoff{base: cfg.BackoffBase, max: cfg.BackoffMax},
	}
	if cfg.HMACSecret != "" {
		p.secret = []byte(cfg.HMACSecret)
	}
	failures := uint32(cfg.BreakerFailures)
	p.breaker = gobreaker.NewCircuitBreaker[attempt](gobreaker.Settings{
		Name:        cfg.LegacyURL,
		MaxRequests: 1,
		Timeout:     cfg.BreakerOpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		IsSuccessful: func(err error) bool {
			return err == nil || !errors.Is(err, errTransient)
		},
		OnStateChange: func(_ string, _, to gobreaker.State) {
			if onState != nil {
				onState(to)
			}
		},
	})
	return p
}

// try makes one attempt, unless the breaker is open.
func (p *poster) try(ctx context.Context, d Delivery) attempt {
	a, err := p.breaker.Execute(func() (attempt, error) {
		a := p.post(ctx, d)
		if a.outcome == failed {
			return a, fmt.Errorf("%w: %v", errTransient, a.err)
		}
		return a, nil
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return attempt{outcome: notAttempted, err: fmt.Errorf("circuit breaker for %s is open: %w", p.url, err)}
	}
	return a
}

// post makes one attempt, a client span whose trace the legacy system
// receives (traceparent). The span is made here rather than by wrapping the
// transport (otelhttp): a wrapped body is not one the transport knows to be
// in memory, so it sent the headers and the body in two writes, and the
// wrapper's metric attributes cost as much again.
func (p *poster) post(ctx context.Context, d Delivery) (a attempt) {
	ctx, span := p.tracer.Start(ctx, "HTTP POST", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(semconv.HTTPRequestMethodPost, semconv.URLFull(p.url)))
	defer func() {
		if a.status != 0 {
			span.SetAttributes(semconv.HTTPResponseStatusCode(a.status))
		}
		if a.outcome != delivered {
			span.SetStatus(codes.Error, a.err.Error())
		}
		span.End()
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(d.Body))
	if err != nil {
		return attempt{outcome: rejected, err: fmt.Errorf("request to %s: %w", p.url, err)}
	}
	tracing.Propagator().Inject(ctx, propagation.HeaderCarrier(req.Header))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(legacycontract.HeaderIdempotencyKey, d.EventID)
	if p.secret != nil {
		ts, sig := legacycontract.Sign(p.secret, time.Now(), d.EventID, d.Body)
		req.Header.Set(legacycontract.HeaderTimestamp, ts)
		req.Header.Set(legacycontract.HeaderSignature, sig)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return attempt{outcome: failed, err: fmt.Errorf("POST %s: %w", p.url, err)}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	a = attempt{status: resp.StatusCode}
	switch code := resp.StatusCode; {
	case code/100 == 2, code == http.StatusConflict:
		a.outcome = delivered
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		a.outcome = failed
		a.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	case code/100 == 4 && code != http.StatusRequestTimeout:
		a.outcome = rejected
	default:
		a.outcome = failed
	}
	if a.outcome != delivered {
		a.err = fmt.Errorf("POST %s: %s: %s", p.url, resp.Status, bytes.TrimSpace(msg))
	}
	return a
}

// maxRetryAfter caps how long a Retry-After header can hold a delivery.
const maxRetryAfter = 5 * time.Minute

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return min(time.Duration(secs)*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}

// backoff is capped exponential backoff with full jitter.
type backoff struct {
	base, max time.Duration
}

func (b backoff) delay(attempt int) time.Duration {
	d := b.max
	if attempt < 31 {
		d = min(b.base<<max(attempt-1, 0), b.max)
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}
