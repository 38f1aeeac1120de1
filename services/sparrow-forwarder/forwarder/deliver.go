package forwarder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"
)

// Delivery is one event on its way to the legacy system.
type Delivery struct {
	EventID string
	Body    []byte
}

// errPermanent is a refusal the legacy system will repeat however often we
// ask (a 4xx other than 408 and 429).
var errPermanent = errors.New("refused by the legacy system")

// poster sends deliveries to the legacy endpoint.
type poster struct {
	url     string
	client  *http.Client
	backoff backoff
}

// post makes one attempt. A 2xx, or 409 (the legacy side already has that
// idempotency key), is success.
func (p *poster) post(ctx context.Context, d Delivery) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(d.Body))
	if err != nil {
		return fmt.Errorf("%w: request to %s: %v", errPermanent, p.url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", d.EventID)
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", p.url, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode/100 == 2, resp.StatusCode == http.StatusConflict:
		return nil
	case resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests:
		return fmt.Errorf("%w: %s: %s", errPermanent, resp.Status, bytes.TrimSpace(msg))
	}
	return fmt.Errorf("POST %s: %s: %s", p.url, resp.Status, bytes.TrimSpace(msg))
}

// deliver retries until the legacy system accepts the event or ctx ends.
// Nothing is dropped here: a permanent refusal is retried at the capped
// backoff, holding the partition, until dead letters exist to take it.
func (p *poster) deliver(ctx context.Context, d Delivery, onRetry func(attempt int, err error)) error {
	for attempt := 1; ; attempt++ {
		err := p.post(ctx, d)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		onRetry(attempt, err)
		t := time.NewTimer(p.backoff.delay(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// backoff is capped exponential backoff with full jitter.
type backoff struct {
	base, max time.Duration
}

func (b backoff) delay(attempt int) time.Duration {
	d := b.max
	if attempt < 31 {
		d = min(b.base<<(attempt-1), b.max)
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}
