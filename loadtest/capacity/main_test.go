package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestDocIsTheProgramsOutput: docs/capacity.md shows what the program
// computes from its defaults, so the page is redone by running it.
func TestDocIsTheProgramsOutput(t *testing.T) {
	doc, err := os.ReadFile("../../docs/capacity.md")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	in := defaults()
	write(&out, in, Compute(in))
	if !strings.Contains(string(doc), out.String()) {
		t.Errorf("docs/capacity.md does not hold the output of go run ./loadtest/capacity:\n%s", out.String())
	}
}

func TestCompute(t *testing.T) {
	in := defaults()
	in.Writes, in.Reads, in.Subscribers = 6_000, 9_600, 30_000
	in.PerPartition, in.WriteAPIPerCore, in.UpdaterPerCore, in.ForwarderPerCore, in.ReadAPIPerCore = 1_000, 1_000, 100_000, 1_000, 1_000
	in.SubscribersPerReplica, in.CoresPerReplica, in.Headroom = 10_000, 1, 0.5
	p := Compute(in)
	want := Plan{Partitions: 12, WriteAPI: 12, Updaters: 1, Forwarders: 12, ReadAPI: 20, StreamReplicas: 6}
	if p.Partitions != want.Partitions || p.WriteAPI != want.WriteAPI || p.Updaters != want.Updaters ||
		p.Forwarders != want.Forwarders || p.ReadAPI != want.ReadAPI || p.StreamReplicas != want.StreamReplicas {
		t.Errorf("Compute = %+v, want %+v", p, want)
	}
	// Consumers never outnumber partitions.
	in.ForwarderPerCore = 10
	if p := Compute(in); p.Forwarders != p.Partitions {
		t.Errorf("%d forwarders for %d partitions", p.Forwarders, p.Partitions)
	}
	in.BrokerMBps = 0
	if err := in.validate(); err == nil {
		t.Error("a broker of 0 MB/s was accepted")
	}
}
