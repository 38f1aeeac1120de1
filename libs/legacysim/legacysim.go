// Package legacysim stands in for the legacy system: it accepts the
// forwarder's deliveries, deduplicates them by Idempotency-Key and appends
// each accepted one, as a JSON line, to a file.
package legacysim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
)

// MaxBody is the largest delivery accepted.
const MaxBody = 1 << 20

// Sim is the stand-in's state: the record file and the keys it holds.
type Sim struct {
	mu   sync.Mutex
	out  *os.File
	seen map[string]struct{}
}

// Open opens (or creates) the record file and loads the idempotency keys
// already in it, so a restart keeps deduplicating.
func Open(path string) (*Sim, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("legacy stand-in: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("legacy stand-in: open %s: %w", path, err)
	}
	s := &Sim{out: f, seen: map[string]struct{}{}}
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

func (s *Sim) Close() error { return s.out.Close() }

// ServeHTTP accepts one delivery: 200 when recorded, 200 too when its key
// was already recorded (nothing is written twice), 400 when it is not a
// JSON object with an Idempotency-Key.
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
	var obj map[string]any
	if err := json.Unmarshal(body, &obj); err != nil {
		http.Error(w, "body is not a JSON object: "+err.Error(), http.StatusBadRequest)
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
