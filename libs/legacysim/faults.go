package legacysim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"
)

// Faults are the misbehaviours of the real legacy system the sim can play.
type Faults struct {
	// FailRate is the fraction of deliveries answered with FailStatus.
	FailRate   float64
	FailStatus int
	// Latency delays a LatencyRate fraction of deliveries (all when 0).
	Latency     time.Duration
	LatencyRate float64
	// DownAfter and DownFor make the system answer 503 to everything from
	// DownAfter after start, for DownFor.
	DownAfter time.Duration
	DownFor   time.Duration
	// RejectTypes are event types refused for good with 422.
	RejectTypes []string
}

// Validate reports a fault setting that makes no sense.
func (f Faults) Validate() error {
	switch {
	case f.FailRate < 0 || f.FailRate > 1:
		return fmt.Errorf("--fail-rate %v: want 0 to 1", f.FailRate)
	case f.LatencyRate < 0 || f.LatencyRate > 1:
		return fmt.Errorf("--latency-rate %v: want 0 to 1", f.LatencyRate)
	case f.FailRate > 0 && (f.FailStatus < 400 || f.FailStatus > 599):
		return fmt.Errorf("--fail-status %d: want an HTTP error status (400-599)", f.FailStatus)
	case f.Latency < 0 || f.DownAfter < 0 || f.DownFor < 0:
		return fmt.Errorf("durations must not be negative")
	}
	return nil
}

// inject plays the faults for one delivery of eventType, uptime after start:
// it sleeps for latency and returns the status to answer, or 0 to go on.
func (f Faults) inject(ctx context.Context, uptime time.Duration, eventType string) (int, string) {
	if f.DownFor > 0 && uptime >= f.DownAfter && uptime < f.DownAfter+f.DownFor {
		return http.StatusServiceUnavailable, "legacy system is down for maintenance"
	}
	if f.Latency > 0 && (f.LatencyRate == 0 || rand.Float64() < f.LatencyRate) {
		select {
		case <-time.After(f.Latency):
		case <-ctx.Done():
			return http.StatusServiceUnavailable, "request cancelled"
		}
	}
	if slices.Contains(f.RejectTypes, eventType) {
		return http.StatusUnprocessableEntity, fmt.Sprintf("event type %s is not accepted", eventType)
	}
	if f.FailRate > 0 && rand.Float64() < f.FailRate {
		return f.FailStatus, "injected failure"
	}
	return 0, ""
}
