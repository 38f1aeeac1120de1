package retry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestDelayGrowsToItsCap(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Max: time.Second}
	cases := []struct {
		n        int
		min, max time.Duration
	}{
		{1, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, 100 * time.Millisecond, 200 * time.Millisecond},
		{4, 400 * time.Millisecond, 800 * time.Millisecond},
		{5, 500 * time.Millisecond, time.Second},
		{50, 500 * time.Millisecond, time.Second},
	}
	for _, c := range cases {
		for i := 0; i < 100; i++ {
			if d := b.Delay(c.n); d < c.min || d > c.max {
				t.Fatalf("Delay(%d) = %s, want within [%s, %s]", c.n, d, c.min, c.max)
			}
		}
	}
}

func TestUntilRecordsEachOutcomeAndStopsWithItsContext(t *testing.T) {
	st := NewStatus(errors.New("not tried yet"))
	fails := 3
	err := Until(context.Background(), zap.NewNop(), "thing", Backoff{Base: time.Millisecond, Max: time.Millisecond}, st, func(context.Context) error {
		if fails > 0 {
			fails--
			if st.Err() == nil {
				t.Error("status is nil while still failing")
			}
			return errors.New("down")
		}
		return nil
	})
	if err != nil || st.Err() != nil || fails != 0 {
		t.Fatalf("Until = %v, status %v, %d failures left", err, st.Err(), fails)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = Until(ctx, zap.NewNop(), "never", Backoff{Base: time.Millisecond, Max: 10 * time.Millisecond}, st, func(context.Context) error {
		return errors.New("still down")
	})
	if !errors.Is(err, context.DeadlineExceeded) || st.Err() == nil || st.Err().Error() != "still down" {
		t.Fatalf("Until = %v with status %v, want the context's error and the last failure kept", err, st.Err())
	}
}

// An attempt that the deadline cuts short fails only with the deadline; the
// error Until returns still says why the attempts before it failed.
func TestUntilKeepsTheFailureThatSaysWhy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	refused := errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	n := 0
	err := Until(ctx, zap.NewNop(), "store", Backoff{Base: time.Millisecond, Max: time.Millisecond}, nil, func(ctx context.Context) error {
		n++
		if n == 3 {
			<-ctx.Done() // the attempt that is under way when time runs out
			return fmt.Errorf("dial: %w", ctx.Err())
		}
		return refused
	})
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, refused) {
		t.Fatalf("Until = %v, want the deadline and the refused connection before it", err)
	}
}
