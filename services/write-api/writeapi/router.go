package writeapi

import (
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// groupRouter is the Router of a write-api group: each member advertises its
// gRPC address as member metadata user data, and the group's assignment
// says which partitions it has. The table is refreshed on demand, at most
// every minGap, by one caller at a time and without holding the lock while
// it asks Kafka.
type groupRouter struct {
	describe func() (map[int32]string, error)
	minGap   time.Duration

	mu         sync.Mutex
	owners     map[int32]string
	fetched    time.Time
	stale      bool
	refreshing bool
}

func newGroupRouter(admin sarama.ClusterAdmin, group, topic string) *groupRouter {
	return &groupRouter{
		describe: func() (map[int32]string, error) { return describeOwners(admin, group, topic) },
		minGap:   100 * time.Millisecond,
		stale:    true,
	}
}

func describeOwners(admin sarama.ClusterAdmin, group, topic string) (map[int32]string, error) {
	descs, err := admin.DescribeConsumerGroups([]string{group})
	if err != nil {
		return nil, fmt.Errorf("describe group %s: %w", group, err)
	}
	owners := map[int32]string{}
	for _, d := range descs {
		for _, m := range d.Members {
			meta, err := m.GetMemberMetadata()
			if err != nil || meta == nil || len(meta.UserData) == 0 {
				continue
			}
			asg, err := m.GetMemberAssignment()
			if err != nil || asg == nil {
				continue
			}
			for _, p := range asg.Topics[topic] {
				owners[p] = string(meta.UserData)
			}
		}
	}
	return owners, nil
}

// Owner returns the owner's address of partition p, refreshing the table
// first when it is stale (and no refresh ran in the last minGap).
func (r *groupRouter) Owner(p int32) (string, bool) {
	r.mu.Lock()
	refresh := (r.stale || r.owners[p] == "") && !r.refreshing && time.Since(r.fetched) >= r.minGap
	if refresh {
		r.refreshing, r.fetched = true, time.Now()
		r.mu.Unlock()
		owners, err := r.describe()
		r.mu.Lock()
		r.refreshing = false
		if err == nil {
			r.owners, r.stale = owners, false
		}
	}
	addr, ok := r.owners[p]
	r.mu.Unlock()
	return addr, ok
}

// Invalidate marks the table stale.
func (r *groupRouter) Invalidate() {
	r.mu.Lock()
	r.stale = true
	r.mu.Unlock()
}
