package writeapi

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/eventlog"
)

// ErrNoOwner means the thread's partition has no reachable owner yet (a
// rebalance is under way); nothing was applied and a retry is safe.
var ErrNoOwner = errors.New("the thread's partition has no owner right now")

// ErrNotConnected means write-api has not reached Kafka yet: nothing was
// applied and a retry is safe.
var ErrNotConnected = errors.New("write-api is not connected to Kafka yet")

// Router says which replica owns a partition.
type Router interface {
	// Owner returns the address of the partition's owner, if known.
	Owner(p int32) (addr string, ok bool)
	// Invalidate forgets what it knows, after a rebalance or a failed
	// forward.
	Invalidate()
}

// Forwarder runs a command on another replica, the owner of its partition.
type Forwarder interface {
	Forward(ctx context.Context, addr string, c Command) (Outcome, error)
}

// Outcome is a command's answer: the domain's result and, when the command
// appended events, when their transaction committed.
type Outcome struct {
	domain.Result
	// Committed is when the commit of the transaction with the command's
	// events began (by the owner's clock): no reader saw them before. Zero
	// when it appended none (a refusal, a request answered again).
	Committed time.Time
}

// Service is the application layer of write-api: it runs a command on the
// writer that owns the thread, or forwards it to the replica that does.
type Service struct {
	// cluster is nil until write-api has connected to Kafka.
	cluster atomic.Pointer[cluster]
	forward Forwarder
	self    string
	wait    time.Duration
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

// Execute applies c on the local writer, or forwards it to the replica that
// owns its thread. While ownership is moving it waits, up to the configured
// bound, then fails with ErrNoOwner.
func (s *Service) Execute(ctx context.Context, c Command) (Outcome, error) {
	cl := s.cluster.Load()
	if cl == nil {
		return Outcome{}, ErrNotConnected
	}
	p := eventlog.PartitionFor(c.ThreadID, cl.partitions)
	deadline := time.Now().Add(s.wait)
	for {
		if w := cl.owners.Local(p); w != nil {
			res, err := w.submit(ctx, request{threadID: c.ThreadID, cmd: c.Cmd,
				meta: domain.Meta{ActorID: c.ActorID, RequestID: c.RequestID, CorrelationID: c.CorrelationID}})
			if !errors.Is(err, ErrLostOwnership) {
				return res, err
			}
			// Not applied here; find the new owner. The request id makes a
			// second attempt safe even if the first did commit.
		} else if !c.Forwarded {
			if addr, ok := cl.router.Owner(p); ok && addr != s.self {
				res, err := s.forward.Forward(ctx, addr, c)
				if status.Code(err) == codes.Unavailable {
					cl.router.Invalidate()
				}
				return res, err
			}
		}
		if time.Now().After(deadline) {
			return Outcome{}, fmt.Errorf("%w (partition %d, waited %s)", ErrNoOwner, p, s.wait)
		}
		cl.router.Invalidate()
		if err := eventlog.Sleep(ctx, 50*time.Millisecond); err != nil {
			return Outcome{}, err
		}
	}
}
