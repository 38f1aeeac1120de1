package eventlog

import "hash/fnv"

// PartitionFor is the partition of a thread's events: FNV-1a of the thread id,
// the hash sarama's default partitioner uses, chosen on purpose and used by
// every writer (records are produced to an explicit partition). It differs
// from Java's murmur2 and librdkafka's CRC32; a non-Go producer must
// reproduce it.
func PartitionFor(threadID string, partitions int32) int32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(threadID))
	p := int32(h.Sum32()) % partitions
	if p < 0 {
		p = -p
	}
	return p
}
