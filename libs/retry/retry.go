// Package retry waits for what a component depends on (a Kafka cluster, a
// read store) without giving up and without spinning: attempts spaced by a
// capped exponential backoff, each failure kept as the component's
// readiness, logged when it changes rather than on every attempt.
package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Backoff spaces attempts: Base after the first failure, doubling up to Max,
// each wait drawn from its upper half so that replicas restarted together
// do not retry in step.
type Backoff struct {
	Base, Max time.Duration
}

// Default is the backoff for reaching a dependency at start: quick to notice
// it is back, gentle while it stays away.
var Default = Backoff{Base: 250 * time.Millisecond, Max: 5 * time.Second}

// Delay is the wait after the n-th consecutive failure (n from 1).
func (b Backoff) Delay(n int) time.Duration {
	d := b.Base
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return d/2 + rand.N(d/2+1)
}

// Status is the last failure of a dependency, nil once it answered: what a
// component's Ready reports while it waits.
type Status struct {
	mu  sync.Mutex
	err error
}

// NewStatus starts as not ready, for the reason given.
func NewStatus(initial error) *Status { return &Status{err: initial} }

// Set records the outcome of the latest attempt.
func (s *Status) Set(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// Err is nil when the dependency last answered.
func (s *Status) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Until calls attempt until it succeeds or ctx ends, recording each outcome
// in status (which may be nil) and logging the first failure, then one in
// every ten, then the recovery. If ctx ends first it returns ctx's error
// with the last failure that said why (an attempt cut short by ctx itself
// says only that the time ran out: the one before it is what a person
// needs, such as a refused connection).
func Until(ctx context.Context, log *zap.Logger, what string, b Backoff, status *Status, attempt func(context.Context) error) error {
	start := time.Now()
	var telling error
	for n := 1; ; n++ {
		err := attempt(ctx)
		if status != nil {
			status.Set(err)
		}
		if err == nil {
			if n > 1 {
				log.Info(what+": ok", zap.Int("attempts", n), zap.Duration("after", time.Since(start).Round(time.Millisecond)))
			}
			return nil
		}
		if telling == nil || ctx.Err() == nil || !errors.Is(err, ctx.Err()) {
			telling = err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w; the last failure: %w", ctx.Err(), telling)
		}
		if n == 1 || n%10 == 0 {
			log.Warn(what+": failed; retrying", zap.Int("attempt", n), zap.Error(err))
		}
		t := time.NewTimer(b.Delay(n))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w; the last failure: %w", ctx.Err(), telling)
		case <-t.C:
		}
	}
}
