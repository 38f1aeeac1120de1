package writeapi

import (
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// routes maps partitions to the gRPC address of their owner, read from the
// consumer group's description: each member advertises its address as
// member metadata user data, and the group's assignment says which
// partitions it has.
type routes struct {
	describe func() (map[int32]string, error)
	minGap   time.Duration

	mu      sync.Mutex
	owners  map[int32]string
	fetched time.Time
	stale   bool
}

func newRoutes(admin sarama.ClusterAdmin, group, topic string) *routes {
	return &routes{
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

// owner returns the owner's address of partition p, refreshing the table
// when it is stale (at most every minGap).
func (r *routes) owner(p int32) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if (r.stale || r.owners[p] == "") && time.Since(r.fetched) >= r.minGap {
		r.fetched = time.Now()
		if owners, err := r.describe(); err == nil {
			r.owners, r.stale = owners, false
		}
	}
	addr, ok := r.owners[p]
	return addr, ok
}

// invalidate marks the table stale after a rebalance or a failed forward.
func (r *routes) invalidate() {
	r.mu.Lock()
	r.stale = true
	r.mu.Unlock()
}
