package writeapi

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/falcon-chat/falcon/libs/domain"
)

type fakeRouter struct {
	owners      map[int32]string
	invalidated int
}

func (r *fakeRouter) Owner(p int32) (string, bool) { a, ok := r.owners[p]; return a, ok }
func (r *fakeRouter) Invalidate()                  { r.invalidated++ }

type fakeForwarder struct {
	to  []string
	res Outcome
	err error
}

func (f *fakeForwarder) Forward(_ context.Context, addr string, _ Command) (Outcome, error) {
	f.to = append(f.to, addr)
	return f.res, f.err
}

// serviceWithoutWriters is a connected Service owning no partition.
func serviceWithoutWriters(r Router, f Forwarder) *Service {
	s := &Service{forward: f, self: "me:1", wait: 100 * time.Millisecond}
	var cfg Config
	s.cluster.Store(&cluster{partitions: 1, router: r, owners: newOwners(&cfg, zap.NewNop(), newMetrics(prometheus.NewRegistry()), r, nil)})
	return s
}

func TestServiceRoutesCommandsItDoesNotOwn(t *testing.T) {
	post := Command{ThreadID: "01JD0000000000000000000001", ActorID: "alice", Cmd: domain.PostMessage{Body: "hi"}}
	unavailable := status.Error(codes.Unavailable, "owner restarting")
	cases := []struct {
		name            string
		owners          map[int32]string
		forwarded       bool
		answer          error
		wantTo          []string
		wantErr         error
		wantInvalidated bool
	}{
		{name: "forwarded to the owner", owners: map[int32]string{0: "other:1"}, wantTo: []string{"other:1"}},
		{name: "an unavailable owner makes the routes stale", owners: map[int32]string{0: "other:1"}, answer: unavailable,
			wantTo: []string{"other:1"}, wantErr: unavailable, wantInvalidated: true},
		{name: "a forwarded command is never forwarded again", owners: map[int32]string{0: "other:1"}, forwarded: true,
			wantErr: ErrNoOwner, wantInvalidated: true},
		{name: "no owner known: waits, then ErrNoOwner", owners: map[int32]string{}, wantErr: ErrNoOwner, wantInvalidated: true},
		{name: "routes naming this replica do not loop", owners: map[int32]string{0: "me:1"}, wantErr: ErrNoOwner, wantInvalidated: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &fakeRouter{owners: c.owners}
			f := &fakeForwarder{res: Outcome{Result: domain.Result{Version: 7}}, err: c.answer}
			cmd := post
			cmd.Forwarded = c.forwarded
			res, err := serviceWithoutWriters(r, f).Execute(context.Background(), cmd)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("Execute: %v, want %v", err, c.wantErr)
				}
			} else if err != nil || res.Version != 7 {
				t.Fatalf("Execute: %+v, %v; want the owner's answer", res, err)
			}
			if len(f.to) != len(c.wantTo) || len(f.to) > 0 && f.to[0] != c.wantTo[0] {
				t.Fatalf("forwarded to %v, want %v", f.to, c.wantTo)
			}
			if (r.invalidated > 0) != c.wantInvalidated {
				t.Fatalf("routes invalidated %d times", r.invalidated)
			}
		})
	}
}

func TestServiceRefusesCommandsBeforeKafkaAnswers(t *testing.T) {
	s := &Service{self: "me:1", wait: time.Second}
	if _, err := s.Execute(context.Background(), Command{ThreadID: "01JD0000000000000000000001"}); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Execute before connecting: %v, want ErrNotConnected", err)
	}
}
