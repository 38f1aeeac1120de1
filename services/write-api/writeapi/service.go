package writeapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
)

// ErrNoOwner means the thread's partition has no reachable owner yet (a
// rebalance is under way); nothing was applied and a retry is safe.
var ErrNoOwner = errors.New("the thread's partition has no owner right now")

// Service is the application layer of write-api: it runs a command on the
// writer that owns the thread, or names the replica that does.
type Service struct {
	owners     *owners
	routes     *routes
	partitions int32
	self       string
	wait       time.Duration
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
	p := eventlog.PartitionFor(c.ThreadID, s.partitions)
	deadline := time.Now().Add(s.wait)
	for {
		if w := s.owners.local(p); w != nil {
			res, err := w.submit(ctx, request{threadID: c.ThreadID, cmd: c.Cmd,
				meta: domain.Meta{ActorID: c.ActorID, RequestID: c.RequestID, CorrelationID: c.CorrelationID}})
			if !errors.Is(err, ErrLostOwnership) {
				return res, "", err
			}
			// Not applied here; find the new owner. The request id makes a
			// second attempt safe even if the first did commit.
		} else if !c.Forwarded {
			if addr, ok := s.routes.owner(p); ok && addr != s.self {
				return domain.Result{}, addr, nil
			}
		}
		if time.Now().After(deadline) {
			return domain.Result{}, "", fmt.Errorf("%w (partition %d, waited %s)", ErrNoOwner, p, s.wait)
		}
		s.routes.invalidate()
		if err := eventlog.Sleep(ctx, 50*time.Millisecond); err != nil {
			return domain.Result{}, "", err
		}
	}
}
