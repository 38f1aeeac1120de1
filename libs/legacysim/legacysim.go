// Package legacysim stands in for the legacy system: it accepts the
// forwarder's deliveries, deduplicates them by Idempotency-Key and appends
// each accepted one, as a JSON line, to a file. It can check the deliveries'
// signatures and inject the faults the real one has (see Faults).
package legacysim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/falcon-chat/falcon/libs/legacycontract"
)

// MaxBody is the largest delivery accepted.
const MaxBody = 1 << 20

// Sim is the stand-in's state: the record file and the keys it holds.
type Sim struct {
	opts    Options
	started time.Time
	mu      sync.Mutex
	out     *os.File
	seen    map[string]struct{}
}

// Options configure a Sim. The zero value accepts every well-formed,
// unsigned delivery.
type Options struct {
	// Secret, when set, makes the sim refuse (401) deliveries without a
	// valid, fresh signature.
	Secret []byte
	Faults Faults
}

// Open opens (or creates) the record file and loads the idempotency keys
// already in it, so a restart keeps deduplicating.
func Open(path string) (*Sim, error) { return OpenWith(path, Options{}) }

// OpenWith is Open with options.
func OpenWith(path string, opts Options) (*Sim, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("legacy stand-in: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("legacy stand-in: open %s: %w", path, err)
	}
	s := &Sim{opts: opts, started: time.Now(), out: f, seen: map[string]struct{}{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), MaxBody+1)
	for sc.Scan() {
		var d struct {
			EventID string `json:"eventId"`
		}
		if json.Unmarshal(sc.Bytes(), &d) == nil && d.EventID != "" {
			s.seen[d.EventID] = struct{}{}
		}
	}
	if err := sc.Err(); err != nil {
		f.Close()
		return nil, fmt.Errorf("legacy stand-in: read %s: %w", path, err)
	}
	return s, nil
}

// Close closes the record file.
func (s *Sim) Close() error { return s.out.Close() }

// ServeHTTP accepts one delivery: 200 when recorded, 200 too when its key
// was already recorded (nothing is written twice), 400 when it is not a
// JSON object with an Idempotency-Key, 401 when its signature is missing,
// wrong or stale, and whatever the configured faults answer.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST deliveries here", http.StatusMethodNotAllowed)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		http.Error(w, "missing Idempotency-Key header", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil || len(body) > MaxBody {
		http.Error(w, "body unreadable or over 1 MiB", http.StatusBadRequest)
		return
	}
	// Only the type is read; decoding into a struct still checks that the
	// body is one JSON object, without building a map of every field.
	var obj struct {
		EventType string `json:"eventType"`
	}
	if err := json.Unmarshal(body, &obj); err != nil {
		http.Error(w, "body is not a JSON object: "+err.Error(), http.StatusBadRequest)
		return
	}
	if s.opts.Secret != nil {
		err := legacycontract.Verify(s.opts.Secret, r.Header.Get(legacycontract.HeaderTimestamp),
			r.Header.Get(legacycontract.HeaderSignature), r.Header.Get(legacycontract.HeaderIdempotencyKey), body, time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
	}
	eventType := obj.EventType
	if code, msg := s.opts.Faults.inject(r.Context(), time.Since(s.started), eventType); code != 0 {
		if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		http.Error(w, msg, code)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.seen[key]; dup {
		w.WriteHeader(http.StatusOK)
		return
	}
	line := append(bytes.TrimSpace(body), '\n')
	if _, err := s.out.Write(line); err != nil {
		http.Error(w, "cannot record delivery: "+err.Error(), http.StatusInternalServerError)
		return
	}
	s.seen[key] = struct{}{}
	w.WriteHeader(http.StatusOK)
}

// Serve serves h at /events on l until ctx ends. A connection the forwarder
// opened but had not used yet counts as active for Shutdown, so after a
// short grace what is left is closed.
func Serve(ctx context.Context, l net.Listener, h http.Handler) error {
	mux := http.NewServeMux()
	mux.Handle("/events", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("legacy stand-in on %s: %w", l.Addr(), err)
	case <-ctx.Done():
	}
	// Shutdown runs after ctx ended: it needs a deadline of its own.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return srv.Close()
	}
	return nil
}
