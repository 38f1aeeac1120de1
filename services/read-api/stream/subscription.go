package stream

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Subscription is one subscriber's stream. Next is called by one
// goroutine, the stream's; the hub hands events to it without waiting.
type Subscription struct {
	h       *Hub
	account string
	q       *queue
	// pending counts, per partition, events handed to q and not yet taken:
	// while none is, the subscriber stands wherever its partition stands.
	pending []atomic.Int64
	joined  []bool // per partition, under its lock
	// dropped is set once an event could not be queued: the cursor then
	// stays before it (no longer moves with the partitions).
	dropped atomic.Bool

	// Owned by the stream's goroutine:
	pos     Cursor
	cur     []byte     // the encoded cursor of the last event taken
	backlog []delivery // retained events from the cursor on, sent first
	left    []int      // backlog events per partition

	end     chan struct{}
	endOnce sync.Once
	endErr  error
	idle    *time.Timer // Next's, reused
}

type delivery struct {
	p  int32
	it *item
}

// deliver hands it to the subscriber, or ends a subscriber that is Buffer
// events behind.
func (s *Subscription) deliver(p int32, it *item) {
	s.pending[p].Add(1)
	if !s.q.push(delivery{p: p, it: it}) {
		s.dropped.Store(true) // before pending falls back: Cursor reads them the other way round
		s.pending[p].Add(-1)
		s.h.m.ended.WithLabelValues("too_slow").Inc()
		s.stop(codes.ResourceExhausted, "SUBSCRIBER_TOO_SLOW",
			"the stream fell more than its buffer behind; resume with its cursor")
	}
}

func (s *Subscription) stop(code codes.Code, reason, msg string) {
	s.endOnce.Do(func() {
		s.endErr = endError{code: code, reason: reason, msg: msg}
		close(s.end)
	})
}

// endError is why a stream ended; Err adds the cursor to resume with.
type endError struct {
	code   codes.Code
	reason string
	msg    string
}

func (e endError) Error() string { return e.msg }

// Next returns the subscriber's next event, with the cursor after it. It
// returns a zero Event and no error when idle passes without one, and an
// error once the stream has ended (Err gives it with the cursor to resume
// from).
func (s *Subscription) Next(ctx context.Context, idle time.Duration) (Event, error) {
	var timer <-chan time.Time
	defer func() {
		if s.idle != nil {
			s.idle.Stop()
		}
	}()
	for {
		if len(s.backlog) > 0 {
			d := s.backlog[0]
			s.backlog[0] = delivery{}
			s.backlog = s.backlog[1:]
			s.left[d.p]--
			if ev, ok := s.take(d); ok {
				return ev, nil
			}
			continue
		}
		// An event already queued is taken without arming the timer.
		if d, ok := s.q.pop(); ok {
			s.pending[d.p].Add(-1)
			if ev, ok := s.take(d); ok {
				return ev, nil
			}
			continue
		}
		if timer == nil {
			if s.idle == nil {
				s.idle = time.NewTimer(idle)
			} else {
				s.idle.Reset(idle)
			}
			timer = s.idle.C
		}
		select {
		case <-s.q.ready:
			// Taken at the top of the loop.
		case <-s.end:
			return Event{}, s.Err()
		case <-s.h.stopping:
			s.stop(codes.Unavailable, "REPLICA_SHUTTING_DOWN", "this read-api replica is shutting down; resume with the cursor (another replica will answer)")
			return Event{}, s.Err()
		case <-ctx.Done():
			return Event{}, ctx.Err()
		case <-timer:
			return Event{}, nil
		}
	}
}

// take moves the subscriber past d and returns its event, or false for an
// event before the subscriber's position (a cursor from a replica further
// on).
func (s *Subscription) take(d delivery) (Event, bool) {
	if d.it.pos < s.pos[d.p] {
		return Event{}, false
	}
	s.pos[d.p] = d.it.pos + 1
	s.h.m.pushed.Inc()
	s.cur = s.appendCursor(s.cur[:0])
	return Event{cursor: s.cur, wire: d.it.wire}, true
}

// Cursor is where the subscriber stands: after the last event it was given
// and, in partitions where nothing is waiting for it, after everything
// dispatched (events it may not see move it on too, so that an idle
// subscriber's cursor does not age out) unless an event was dropped for it.
func (s *Subscription) Cursor() string { return string(s.appendCursor(nil)) }

func (s *Subscription) appendCursor(dst []byte) []byte {
	parts := *s.h.parts.Load()
	for _, p := range parts {
		// Read the position first: an event before it destined here was
		// counted in pending before the position passed it.
		at := p.next.Load()
		if s.left[p.id] == 0 && s.pending[p.id].Load() == 0 && !s.dropped.Load() && at > s.pos[p.id] {
			s.pos[p.id] = at
		}
	}
	return s.pos.AppendEncode(dst, s.account)
}

// Err is why the stream ended, as a gRPC status carrying the cursor to
// resume from (ErrorInfo metadata "cursor"); nil while it runs.
func (s *Subscription) Err() error {
	select {
	case <-s.end:
	default:
		return nil
	}
	e := s.endErr.(endError)
	st := status.New(e.code, e.msg)
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: e.reason, Domain: "falcon.chat",
		Metadata: map[string]string{"cursor": s.Cursor()}}); err == nil {
		st = d
	}
	return st.Err()
}

// Close ends the subscription and frees its place.
func (s *Subscription) Close() {
	s.stop(codes.Canceled, "CLOSED", "the stream was closed")
	s.h.remove(s)
}
