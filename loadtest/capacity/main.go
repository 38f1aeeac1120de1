// Command capacity turns per-core and per-server figures measured on the
// 2-core machine (docs/benchmarks.md) into what a deployment needs for a
// target load: Kafka partitions and brokers, replicas of each service,
// HBase region servers. docs/capacity.md is its output for the seed's
// targets; every input is a flag, so the table is redone when a figure
// moves.
//
//	go run ./loadtest/capacity                      # the table of docs/capacity.md
//	go run ./loadtest/capacity -writes 100000 -reads 1000000
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
)

// Inputs are the load and the measured (or assumed, where said) capacities.
type Inputs struct {
	Writes      float64 // commands a second (posts, edits, marks ...), each one event
	Reads       float64 // queries a second (pages of 50 messages or threads)
	Subscribers float64 // clients connected to the event stream

	// Per core of a service, measured on the 2-core machine with the rest
	// of the pipeline beside it (so conservative).
	WriteAPIPerCore  float64 // commands acknowledged
	UpdaterPerCore   float64 // events projected
	ForwarderPerCore float64 // events delivered to the legacy system
	ReadAPIPerCore   float64 // queries answered
	// Stream subscribers a read-api replica serving streams holds (memory:
	// 12.1 KB an idle one, measured), each such replica reading every event.
	SubscribersPerReplica float64

	PerPartition  float64 // events a second one partition's single writer takes, with headroom
	EventBytes    float64 // an event record on the wire, with its headers
	BrokerMBps    float64 // what one broker writes and serves, MB/s
	Replication   float64 // Kafka replication factor
	ConsumerReads float64 // groups reading every event (updater, forwarder, read-api streams' replicas are counted apart)

	CellsPerEvent     float64 // read-store cells an event writes (message row, thread row cells, index moves)
	CellsPerRead      float64 // cells a query reads (a page of 50 messages of ~8 cells, the membership check)
	RegionCellWrites  float64 // cells a second a region server writes, per core
	RegionCellReads   float64 // cells a second a region server reads, per core
	RegionServerCores float64
	CoresPerReplica   float64 // cores a service replica is given
	MessagesPerMonth  float64
	BytesPerMessage   float64 // a message's row on HBase before compression (8 KeyValues of ~120 bytes)
	HDFSReplication   float64
	Headroom          float64 // fraction of capacity used at the target (the rest absorbs peaks and a lost zone)
}

func defaults() Inputs {
	return Inputs{
		Writes: 500_000, Reads: 5_000_000, Subscribers: 2_000_000,
		WriteAPIPerCore: 5_000, UpdaterPerCore: 16_000, ForwarderPerCore: 10_000, ReadAPIPerCore: 4_000,
		SubscribersPerReplica: 50_000,
		PerPartition:          5_000, EventBytes: 600, BrokerMBps: 100, Replication: 3, ConsumerReads: 2,
		CellsPerEvent: 12, CellsPerRead: 420, RegionCellWrites: 100_000, RegionCellReads: 2_000_000,
		RegionServerCores: 16, CoresPerReplica: 2, Headroom: 0.6,
		MessagesPerMonth: 15e9, BytesPerMessage: 1_000, HDFSReplication: 3,
	}
}

// Plan is what the inputs need.
type Plan struct {
	Partitions     int
	Brokers        int
	WriteAPI       int
	Updaters       int
	Forwarders     int
	ReadAPI        int
	StreamReplicas int
	RegionServers  int
	IngressMBps    float64
	BrokerLoadMBps float64
	StoreTBMonth   float64 // read-store growth a month, replicas included
}

func ceil(x float64) int { return int(math.Ceil(x - 1e-9)) }

// Compute sizes each part at the headroom fraction of its capacity.
func Compute(in Inputs) Plan {
	h := in.Headroom
	replicas := func(load, perCore float64) int { return ceil(load / (perCore * in.CoresPerReplica * h)) }
	p := Plan{
		Partitions: ceil(in.Writes / (in.PerPartition * h)),
		WriteAPI:   replicas(in.Writes, in.WriteAPIPerCore),
		Updaters:   replicas(in.Writes, in.UpdaterPerCore),
		Forwarders: replicas(in.Writes, in.ForwarderPerCore),
		ReadAPI:    replicas(in.Reads, in.ReadAPIPerCore),
		// Memory, not CPU, sizes them; the headroom leaves room for a lost
		// zone's clients reconnecting.
		StreamReplicas: ceil(in.Subscribers / (in.SubscribersPerReplica * h)),
	}
	// Consumers cannot outnumber partitions: a group shares them out.
	p.Updaters = min(p.Updaters, p.Partitions)
	p.Forwarders = min(p.Forwarders, p.Partitions)
	p.WriteAPI = min(p.WriteAPI, p.Partitions)
	p.IngressMBps = in.Writes * in.EventBytes / 1e6
	// Every byte is written Replication times and read by each consumer
	// group and by each read-api replica serving streams (it reads every
	// event; replicas serving only queries run without Kafka).
	p.BrokerLoadMBps = p.IngressMBps * (in.Replication + in.ConsumerReads + float64(p.StreamReplicas))
	p.Brokers = max(ceil(p.BrokerLoadMBps/(in.BrokerMBps*h)), int(in.Replication))
	cells := in.Writes*in.CellsPerEvent/in.RegionCellWrites + in.Reads*in.CellsPerRead/in.RegionCellReads
	p.RegionServers = ceil(cells / (in.RegionServerCores * h))
	p.StoreTBMonth = in.MessagesPerMonth * in.BytesPerMessage * in.HDFSReplication / 1e12
	return p
}

func write(w io.Writer, in Inputs, p Plan) {
	fmt.Fprintf(w, "| for %s writes/s and %s reads/s | needed | from |\n| --- | --- | --- |\n", human(in.Writes), human(in.Reads))
	row := func(what string, n any, from string) { fmt.Fprintf(w, "| %s | %v | %s |\n", what, n, from) }
	row("Kafka partitions", p.Partitions, fmt.Sprintf("%s events/s per partition writer", human(in.PerPartition)))
	row("write-api replicas", p.WriteAPI, fmt.Sprintf("%s commands/s per core", human(in.WriteAPIPerCore)))
	row("read-model-updater replicas", p.Updaters, fmt.Sprintf("%s events/s per core", human(in.UpdaterPerCore)))
	row("sparrow-forwarder replicas", p.Forwarders, fmt.Sprintf("%s deliveries/s per core", human(in.ForwarderPerCore)))
	row("read-api replicas for queries", p.ReadAPI, fmt.Sprintf("%s queries/s per core", human(in.ReadAPIPerCore)))
	row("read-api replicas for streams", p.StreamReplicas, fmt.Sprintf("%s subscribers, %s a replica", human(in.Subscribers), human(in.SubscribersPerReplica)))
	row("Kafka brokers", p.Brokers, fmt.Sprintf("%.0f MB/s in, %.0f MB/s written and served at %.0f MB/s a broker", p.IngressMBps, p.BrokerLoadMBps, in.BrokerMBps))
	row("HBase region servers", p.RegionServers, fmt.Sprintf("%.0f cells an event, %.0f a query; %s cell writes, %s cell reads/s per core, %.0f cores", in.CellsPerEvent, in.CellsPerRead, human(in.RegionCellWrites), human(in.RegionCellReads), in.RegionServerCores))
	row("read-store growth", fmt.Sprintf("%.0f TB/month", p.StoreTBMonth), fmt.Sprintf("%s messages a month, %.0f bytes each, %.0f HDFS replicas, before compression", human(in.MessagesPerMonth), in.BytesPerMessage, in.HDFSReplication))
	fmt.Fprintf(w, "\nEvery part at %.0f%% of its capacity at the target; %.0f cores a service replica.\n", in.Headroom*100, in.CoresPerReplica)
}

func human(v float64) string {
	switch {
	case v >= 1e9 && math.Mod(v, 1e8) == 0:
		return fmt.Sprintf("%gB", v/1e9)
	case v >= 1e6 && math.Mod(v, 1e5) == 0:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3 && math.Mod(v, 100) == 0:
		return fmt.Sprintf("%gK", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}

func main() {
	in := defaults()
	f := func(p *float64, name, usage string) { flag.Float64Var(p, name, *p, usage) }
	f(&in.Writes, "writes", "commands a second at the target")
	f(&in.Reads, "reads", "queries a second at the target")
	f(&in.Subscribers, "subscribers", "clients connected to the event stream at the target")
	f(&in.SubscribersPerReplica, "subscribers-per-replica", "stream subscribers a read-api replica holds")
	f(&in.WriteAPIPerCore, "write-api-per-core", "commands acknowledged a second per write-api core")
	f(&in.UpdaterPerCore, "updater-per-core", "events projected a second per updater core")
	f(&in.ForwarderPerCore, "forwarder-per-core", "events delivered a second per forwarder core")
	f(&in.ReadAPIPerCore, "read-api-per-core", "queries a second per read-api core")
	f(&in.PerPartition, "per-partition", "events a second one partition's writer takes")
	f(&in.EventBytes, "event-bytes", "bytes of an event record")
	f(&in.BrokerMBps, "broker-mbps", "MB/s one Kafka broker writes and serves")
	f(&in.Replication, "replication", "Kafka replication factor")
	f(&in.ConsumerReads, "consumer-groups", "consumer groups reading every event besides read-api")
	f(&in.CellsPerEvent, "cells-per-event", "read-store cells an event writes")
	f(&in.CellsPerRead, "cells-per-read", "read-store cells a query reads")
	f(&in.RegionCellWrites, "region-cell-writes", "cells a second a region server core writes")
	f(&in.RegionCellReads, "region-cell-reads", "cells a second a region server core reads")
	f(&in.RegionServerCores, "region-server-cores", "cores of a region server")
	f(&in.CoresPerReplica, "cores-per-replica", "cores of a service replica")
	f(&in.Headroom, "headroom", "fraction of capacity used at the target")
	f(&in.MessagesPerMonth, "messages-per-month", "messages stored a month")
	f(&in.BytesPerMessage, "bytes-per-message", "bytes a message takes in the read store")
	f(&in.HDFSReplication, "hdfs-replication", "HDFS replicas of the read store's files")
	flag.Parse()
	if err := in.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "capacity:", err)
		os.Exit(2)
	}
	write(os.Stdout, in, Compute(in))
}

// validate refuses inputs the model cannot divide by.
func (in Inputs) validate() error {
	for _, v := range []struct {
		name string
		v    float64
	}{
		{"-write-api-per-core", in.WriteAPIPerCore}, {"-updater-per-core", in.UpdaterPerCore},
		{"-forwarder-per-core", in.ForwarderPerCore}, {"-read-api-per-core", in.ReadAPIPerCore},
		{"-subscribers-per-replica", in.SubscribersPerReplica}, {"-per-partition", in.PerPartition},
		{"-broker-mbps", in.BrokerMBps}, {"-region-cell-writes", in.RegionCellWrites},
		{"-region-cell-reads", in.RegionCellReads}, {"-region-server-cores", in.RegionServerCores},
		{"-cores-per-replica", in.CoresPerReplica}, {"-replication", in.Replication},
	} {
		if !(v.v > 0) || math.IsInf(v.v, 0) {
			return fmt.Errorf("%s must be a positive number, not %g", v.name, v.v)
		}
	}
	for _, v := range []float64{in.Writes, in.Reads, in.Subscribers, in.EventBytes, in.ConsumerReads, in.CellsPerEvent, in.CellsPerRead,
		in.MessagesPerMonth, in.BytesPerMessage, in.HDFSReplication} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("loads and sizes must be finite and not negative, not %g", v)
		}
	}
	if !(in.Headroom > 0 && in.Headroom <= 1) {
		return fmt.Errorf("-headroom must be in (0, 1], not %g", in.Headroom)
	}
	return nil
}
