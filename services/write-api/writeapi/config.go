// Package writeapi is the command side: it owns the partitions the consumer
// group gives it, rebuilds their threads from the log, validates commands
// against them and appends the events in Kafka transactions.
package writeapi

import (
	"errors"
	"flag"
	"time"

	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/flagenv"
	"github.com/falcon-chat/falcon/libs/tlsfiles"
)

// Config is write-api's configuration block.
type Config struct {
	Kafka         eventlog.Config
	Group         string
	Partitions    int
	Replication   int
	CreateTopics  bool
	GRPCAddr      string
	HTTPAddr      string
	AdvertiseAddr string
	// TxnTimeout bounds how long a dead writer's open transaction holds
	// back read_committed consumers.
	TxnTimeout time.Duration
	// MaxBatch is the most commands committed in one transaction.
	MaxBatch int
	// RouteWait bounds how long a command waits for its partition to get an
	// owner during a rebalance before it fails with Unavailable.
	RouteWait time.Duration
	// ReplicaSecret is shared by the replicas: it proves a forwarded command
	// came from one of them.
	ReplicaSecret string
	// ReplicaTLS is how a replica reaches another over TLS (a CA file turns
	// it on); its certificate is presented when the others ask for one.
	ReplicaTLS tlsfiles.Client
	// SnapshotEvery is how many events a partition takes between snapshots
	// of its changed threads; 0 turns snapshots off.
	SnapshotEvery int
	// ImportAccounts may call ImportService (falcon migrate); none by
	// default.
	ImportAccounts flagenv.List
}

// RegisterFlags adds write-api's flags to fs with their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Kafka.RegisterFlags(fs)
	fs.StringVar(&c.Group, "write-group", "falcon-write-api", "consumer group whose membership decides partition ownership")
	fs.IntVar(&c.Partitions, "partitions", 12, "partitions of the events topic when write-api creates it")
	fs.IntVar(&c.Replication, "replication-factor", 1, "replication factor of the events topic when write-api creates it")
	fs.BoolVar(&c.CreateTopics, "create-topics", true, "create the events topic if it does not exist (false where operators own topics)")
	fs.StringVar(&c.GRPCAddr, "grpc-addr", "127.0.0.1:9091", "gRPC listen address")
	fs.StringVar(&c.HTTPAddr, "http-addr", "127.0.0.1:8081", "HTTP listen address (REST, health, metrics)")
	fs.StringVar(&c.AdvertiseAddr, "advertise-addr", "", "gRPC address other replicas forward commands to (default: --grpc-addr)")
	fs.DurationVar(&c.TxnTimeout, "txn-timeout", 10*time.Second, "Kafka transaction timeout")
	fs.IntVar(&c.MaxBatch, "max-batch", 256, "most commands committed in one transaction (group commit)")
	fs.DurationVar(&c.RouteWait, "route-wait", 5*time.Second, "how long a command waits for its partition's owner during a rebalance")
	fs.StringVar(&c.ReplicaSecret, "replica-secret", "", "secret the replicas share to prove a forwarded command is theirs (from a Secret; empty: forwarded commands are not trusted as such)")
	fs.StringVar(&c.ReplicaTLS.CAFile, "replica-tls-ca-file", "", "PEM CA bundle that signed the other replicas' certificates: forward commands over TLS, verifying them")
	fs.StringVar(&c.ReplicaTLS.CertFile, "replica-tls-cert-file", "", "PEM certificate to present to other replicas (when they require mutual TLS); usually --tls-cert-file")
	fs.StringVar(&c.ReplicaTLS.KeyFile, "replica-tls-key-file", "", "PEM private key of --replica-tls-cert-file")
	fs.StringVar(&c.ReplicaTLS.ServerName, "replica-tls-server-name", "", "name the other replicas' certificates carry (they are reached by IP; default: the address's host)")
	fs.Var(&c.ImportAccounts, "import-accounts", "comma-separated accounts that may import the legacy history (ImportService, falcon migrate); empty: nobody")
	fs.IntVar(&c.SnapshotEvery, "snapshot-every", 50000, "events of a partition between snapshots of its changed threads (0: no snapshots, replay everything on takeover)")
}

// Validate checks the configuration before anything starts.
func (c *Config) Validate() error {
	if err := c.Kafka.Validate(); err != nil {
		return err
	}
	switch {
	case c.Partitions < 1:
		return errors.New("--partitions must be at least 1")
	case c.MaxBatch < 1:
		return errors.New("--max-batch must be at least 1")
	case c.TxnTimeout < time.Second:
		return errors.New("--txn-timeout must be at least 1s")
	case c.SnapshotEvery < 0:
		return errors.New("--snapshot-every must not be negative")
	case c.ReplicaTLS.CAFile == "" && (c.ReplicaTLS.CertFile != "" || c.ReplicaTLS.ServerName != ""):
		return errors.New("--replica-tls-* settings need --replica-tls-ca-file, which turns TLS between replicas on")
	}
	return nil
}

// layout is how write-api creates topics.
func (c *Config) layout() eventlog.TopicLayout {
	return eventlog.TopicLayout{Partitions: int32(c.Partitions), Replication: int16(c.Replication)}
}

func (c *Config) advertise() string {
	if c.AdvertiseAddr != "" {
		return c.AdvertiseAddr
	}
	return c.GRPCAddr
}
