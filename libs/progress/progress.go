// Package progress reports a long job's progress: a line redrawn in place,
// with rate and time left, on a terminal; a structured log line every few
// seconds otherwise.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/term"
)

// Reporter reports how far a job of a known total has come. Safe for
// concurrent use.
type Reporter struct {
	what  string
	total int
	start time.Time
	every time.Duration
	// line, on a terminal; else log.
	line io.Writer
	log  *zap.Logger

	mu   sync.Mutex
	done int
	last time.Time
}

// New reports on stderr when it is a terminal, else through log.
func New(what string, total int, log *zap.Logger) *Reporter {
	r := &Reporter{what: what, total: total, start: time.Now(), log: log, every: 5 * time.Second}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		r.line, r.every = os.Stderr, 200*time.Millisecond
	}
	return r
}

// Set records that done of the total are done.
func (r *Reporter) Set(done int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = max(r.done, done)
	if now := time.Now(); now.Sub(r.last) >= r.every || r.done == r.total {
		r.last = now
		r.report(now, false)
	}
}

// Finish reports the end.
func (r *Reporter) Finish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.report(time.Now(), true)
}

func (r *Reporter) report(now time.Time, final bool) {
	elapsed := now.Sub(r.start)
	rate := float64(r.done) / max(elapsed.Seconds(), 1e-9)
	left := time.Duration(0)
	if rate > 0 && r.total > r.done {
		left = time.Duration(float64(r.total-r.done)/rate) * time.Second
	}
	if r.line != nil {
		pct := 100.0
		if r.total > 0 {
			pct = 100 * float64(r.done) / float64(r.total)
		}
		fmt.Fprintf(r.line, "\r%s: %d of %d (%.1f%%), %.0f/s, %s left   ", r.what, r.done, r.total, pct, rate, left.Round(time.Second))
		if final {
			fmt.Fprintf(r.line, "\n%s: %d in %s (%.0f/s)\n", r.what, r.done, elapsed.Round(time.Millisecond), rate)
		}
		return
	}
	msg := "progress"
	if final {
		msg = "done"
	}
	r.log.Info(msg, zap.String("job", r.what), zap.Int("done", r.done), zap.Int("total", r.total),
		zap.Float64("per_second", rate), zap.Duration("elapsed", elapsed), zap.Duration("left", left))
}
