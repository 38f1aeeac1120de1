package forwarder

import (
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/falcon-chat/falcon/libs/legacycontract"
	"github.com/falcon-chat/falcon/libs/tracing"
)

func TestAttemptOutcomes(t *testing.T) {
	cases := []struct {
		status     int
		retryAfter string
		want       outcome
		wantWait   time.Duration
	}{
		{200, "", delivered, 0},
		{204, "", delivered, 0},
		{409, "", delivered, 0},
		{400, "", rejected, 0},
		{422, "", rejected, 0},
		{408, "", failed, 0},
		{429, "3", failed, 3 * time.Second},
		{503, "1", failed, time.Second},
		{503, "soon", failed, 0},
		{500, "", failed, 0},
	}
	for _, c := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get(legacycontract.HeaderIdempotencyKey) != "e1" || r.Header.Get(legacycontract.HeaderSignature) == "" {
				http.Error(w, "unsigned or no key", 400)
				return
			}
			if c.retryAfter != "" {
				w.Header().Set("Retry-After", c.retryAfter)
			}
			w.WriteHeader(c.status)
		}))
		var cfg Config
		cfg.RegisterFlags(flag.NewFlagSet("t", flag.ContinueOnError))
		cfg.LegacyURL, cfg.HMACSecret = srv.URL, "k"
		a := newPoster(cfg, nil, tracing.Off().Provider).post(context.Background(), Delivery{EventID: "e1", Body: []byte(`{}`)})
		srv.Close()
		if a.outcome != c.want || a.retryAfter != c.wantWait {
			t.Errorf("HTTP %d (Retry-After %q): outcome %v wait %s, want %v wait %s", c.status, c.retryAfter, a.outcome, a.retryAfter, c.want, c.wantWait)
		}
	}
}

func TestBreakerOpensAndProbes(t *testing.T) {
	var up atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()
	var cfg Config
	cfg.RegisterFlags(flag.NewFlagSet("t", flag.ContinueOnError))
	cfg.LegacyURL, cfg.BreakerFailures, cfg.BreakerOpenFor = srv.URL, 3, 100*time.Millisecond
	p := newPoster(cfg, nil, tracing.Off().Provider)
	d := Delivery{EventID: "e", Body: []byte(`{}`)}
	for i := 0; i < 3; i++ {
		if a := p.try(context.Background(), d); a.outcome != failed {
			t.Fatalf("attempt %d: %v, want failed", i, a.outcome)
		}
	}
	if a := p.try(context.Background(), d); a.outcome != notAttempted {
		t.Fatalf("after 3 failures: %v, want the breaker open", a.outcome)
	}
	up.Store(true)
	time.Sleep(150 * time.Millisecond)
	if a := p.try(context.Background(), d); a.outcome != delivered {
		t.Fatalf("half-open probe: %v, want delivered", a.outcome)
	}
}
