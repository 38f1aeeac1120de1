package readmodel

import (
	"context"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/falcon-chat/falcon/libs/domain"
	"github.com/falcon-chat/falcon/libs/pebblestore"
)

// TestProjectionAgreesWithTheAggregateOnMembership: over random histories
// of membership commands (those the domain accepts), the read model's
// members and administrators are the aggregate's, batch after batch; and
// its history says, for every version so far, who was a member then: the
// members before or after that version's event (one added sees its
// addition, one removed sees its removal).
func TestProjectionAgreesWithTheAggregateOnMembership(t *testing.T) {
	store, err := pebblestore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	p, r := NewProjector(store), NewReader(store)
	rng := rand.New(rand.NewPCG(1, 2))
	accounts := []string{"alice", "bob", "carol", "dave", "erin", "frank"}
	pick := func() []string {
		var out []string
		for _, a := range accounts {
			if rng.IntN(3) == 0 {
				out = append(out, a)
			}
		}
		return out
	}
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	for thread := 0; thread < 20; thread++ {
		id := ulid.Make().String()
		th := domain.NewThread(id)
		var batch []domain.Event
		seenAt := map[uint64][]string{}
		decide := func(actor string, cmd domain.Command) {
			now = now.Add(time.Second)
			e, _, err := th.Decide(cmd, domain.Meta{ActorID: actor, EventID: ulid.Make().String(), NewMessageID: ulid.Make().String(), Now: now})
			if err != nil || e == nil {
				return // refused by the rules: nothing happens
			}
			before := th.Members()
			if err := th.Apply(*e); err != nil {
				t.Fatal(err)
			}
			seen := union(before, th.Members())
			slices.Sort(seen)
			seenAt[e.Version] = seen
			batch = append(batch, *e)
		}
		decide("alice", domain.CreateThread{Title: "t", MemberIDs: pick(), AdministratorIDs: pick()})
		for step := 0; step < 60; step++ {
			admins := th.Administrators()
			actor := admins[rng.IntN(len(admins))]
			switch rng.IntN(4) {
			case 0:
				decide(actor, domain.AddMembers{AccountIDs: pick()})
			case 1:
				decide(actor, domain.RemoveMembers{AccountIDs: pick()})
			case 2:
				decide(actor, domain.AddAdministrators{AccountIDs: pick()})
			case 3:
				decide(actor, domain.RemoveAdministrators{AccountIDs: pick()})
			}
			if rng.IntN(5) == 0 || step == 59 {
				if _, err := p.Apply(ctx, batch); err != nil {
					t.Fatal(err)
				}
				batch = nil
				got, ok, err := r.Thread(ctx, id)
				if err != nil || !ok {
					t.Fatalf("thread %s: %v %v", id, ok, err)
				}
				if !reflect.DeepEqual(got.Members, th.Members()) || !reflect.DeepEqual(got.Administrators, th.Administrators()) {
					t.Fatalf("thread %s at version %d: read model has members %v, administrators %v; the aggregate %v, %v",
						id, th.Version(), got.Members, got.Administrators, th.Members(), th.Administrators())
				}
				for v := uint64(1); v <= th.Version(); v++ {
					if at := got.History.MembersAt(v); !slices.Equal(at, seenAt[v]) {
						t.Fatalf("thread %s: the history says %v were members at version %d; the aggregate had %v", id, at, v, seenAt[v])
					}
					for _, a := range accounts {
						if got.MemberAt(a, v) != slices.Contains(seenAt[v], a) {
							t.Fatalf("thread %s: MemberAt(%s, %d) = %v", id, a, v, got.MemberAt(a, v))
						}
					}
				}
			}
		}
	}
}
