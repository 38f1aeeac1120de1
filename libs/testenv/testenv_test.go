package testenv

import (
	"net"
	"strconv"
	"testing"
)

// Two services of one test given the same port, or a port an outgoing
// connection took, fail to start: FreeAddr hands out each port once, below
// the kernel's ephemeral range, and each one binds.
func TestFreeAddrGivesEachPortOnceOutsideTheEphemeralRange(t *testing.T) {
	seen := map[string]bool{}
	end := ephemeralStart()
	for range 300 {
		addr := FreeAddr(t)
		if seen[addr] {
			t.Fatalf("%s handed out twice", addr)
		}
		seen[addr] = true
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		if port, _ := strconv.Atoi(p); port < lowestPort || port >= end {
			t.Fatalf("port %d outside [%d, %d)", port, lowestPort, end)
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("%s does not bind: %v", addr, err)
		}
		_ = l.Close()
	}
}
