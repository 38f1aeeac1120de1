package writeapi

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
)

// ErrNoOwner means the thread's partition has no reachable owner yet (a
// rebalance is under way); nothing was applied and a retry is safe.
var ErrNoOwner = errors.New("the thread's partition has no owner right now")

// ErrNotConnected means write-api has not reached Kafka yet: nothing was
// applied and a retry is safe.
var ErrNotConnected = errors.New("write-api is not connected to Kafka yet")

// Service is the application layer of write-api: it runs a command on the
// writer that owns the thread, or names the replica that does.
type Service struct {
	// cluster is nil until write-api has connected to Kafka.
	cluster atomic.Pointer[cluster]
	self    string
	wait    time.Duration
}

// invalidateRoutes forgets who owns what, after a failed forward.
func (s *Service) invalidateRoutes() {
	if c := s.cluster.Load(); c != nil {
		c.routes.invalidate()
	}
}

// Command is one command as the transport hands it over.
type Command struct {
	ThreadID      string
	ActorID       string
	RequestID     string
	CorrelationID string
	Cmd           domain.Command
	// Forwarded is set when another replica sent it here: it must not be
	// forwarded again.
	Forwarded bool
}

// Execute applies c on the local writer and returns its result. When another
// replica owns the thread it returns that replica's address instead, for the
// transport to forward to. While ownership is moving it waits, up to the
// configured bound, then fails with ErrNoOwner.
func (s *Service) Execute(ctx context.Context, c Command) (res domain.Result, forwardTo string, err error) {
	cl := s.cluster.Load()
	if cl == nil {
		return domain.Result{}, "", ErrNotConnected
	}
	p := eventlog.PartitionFor(c.ThreadID, cl.partitions)
	deadline := time.Now().Add(s.wait)
	for {
		if w := cl.owners.local(p); w != nil {
			res, err := w.submit(ctx, request{threadID: c.ThreadID, cmd: c.Cmd,
				meta: domain.Meta{ActorID: c.ActorID, RequestID: c.RequestID, CorrelationID: c.CorrelationID}})
			if !errors.Is(err, ErrLostOwnership) {
				return res, "", err
			}
			// Not applied here; find the new owner. The request id makes a
			// second attempt safe even if the first did commit.
		} else if !c.Forwarded {
			if addr, ok := cl.routes.owner(p); ok && addr != s.self {
				return domain.Result{}, addr, nil
			}
		}
		if time.Now().After(deadline) {
			return domain.Result{}, "", fmt.Errorf("%w (partition %d, waited %s)", ErrNoOwner, p, s.wait)
		}
		cl.routes.invalidate()
		if err := eventlog.Sleep(ctx, 50*time.Millisecond); err != nil {
			return domain.Result{}, "", err
		}
	}
}
