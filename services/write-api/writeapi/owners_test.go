package writeapi

import (
	"fmt"
	"slices"
	"testing"

	"github.com/IBM/sarama"
)

// recordingPauser records the partitions paused, in order.
type recordingPauser struct{ paused []string }

func (r *recordingPauser) Pause(partitions map[string][]int32) {
	for topic, ps := range partitions {
		for _, p := range ps {
			r.paused = append(r.paused, fmt.Sprintf("%s/%d", topic, p))
		}
	}
}

type drainedClaim struct {
	partition int32
	messages  chan *sarama.ConsumerMessage
	pauser    *recordingPauser
	// pausedFirst says the partition was paused before its first message
	// was taken.
	pausedFirst bool
}

func (c *drainedClaim) Topic() string              { return "events" }
func (c *drainedClaim) Partition() int32           { return c.partition }
func (c *drainedClaim) InitialOffset() int64       { return 0 }
func (c *drainedClaim) HighWaterMarkOffset() int64 { return 0 }
func (c *drainedClaim) Messages() <-chan *sarama.ConsumerMessage {
	c.pausedFirst = slices.Contains(c.pauser.paused, fmt.Sprintf("%s/%d", c.Topic(), c.partition))
	return c.messages
}

// A writer reads its partition's log itself: the ownership claim must not
// fetch the records back from the broker, so it is paused before it is
// drained of what it fetched already.
func TestClaimsArePausedBeforeTheyAreDrained(t *testing.T) {
	p := &recordingPauser{}
	o := &owners{pauser: p}
	for _, partition := range []int32{3, 1} {
		c := &drainedClaim{partition: partition, messages: make(chan *sarama.ConsumerMessage, 2), pauser: p}
		c.messages <- &sarama.ConsumerMessage{}
		c.messages <- &sarama.ConsumerMessage{}
		close(c.messages)
		if err := o.ConsumeClaim(nil, c); err != nil {
			t.Fatal(err)
		}
		if !c.pausedFirst {
			t.Errorf("partition %d: drained before it was paused", partition)
		}
		if len(c.messages) != 0 {
			t.Errorf("partition %d: %d fetched records left undrained", partition, len(c.messages))
		}
	}
	if got := len(p.paused); got != 2 || p.paused[0] != "events/3" || p.paused[1] != "events/1" {
		t.Errorf("paused %v, want [events/3 events/1]", p.paused)
	}
}
