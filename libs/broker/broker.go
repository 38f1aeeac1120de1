// Package broker runs the embedded Kafka-protocol broker (kfake) used by
// `falcon dev`, `falcon broker` and the tests. Services never import it:
// they talk to it over TCP like to any Kafka cluster.
package broker

import (
	"crypto/tls"
	"fmt"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker is one embedded broker.
type Broker struct {
	cluster *kfake.Cluster
}

// Option changes how the broker serves.
type Option func(*[]kfake.Opt)

// WithTLS makes the broker speak TLS only.
func WithTLS(cfg *tls.Config) Option {
	return func(o *[]kfake.Opt) { *o = append(*o, kfake.TLS(cfg)) }
}

// WithSASL makes the broker require SASL authentication, and adds a user
// allowed everything (mechanism: SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN).
func WithSASL(mechanism, user, password string) Option {
	return func(o *[]kfake.Opt) { *o = append(*o, kfake.EnableSASL(), kfake.Superuser(mechanism, user, password)) }
}

// Start listens on addr (host:port; port 0 picks a free one). With a
// dataDir, topics, offsets and transactions survive a restart.
func Start(dataDir, addr string, options ...Option) (*Broker, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("broker address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("broker address %q: port: %w", addr, err)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.ListenFn(func(network, a string) (net.Listener, error) {
			_, p, err := net.SplitHostPort(a)
			if err != nil {
				return nil, err
			}
			return net.Listen(network, net.JoinHostPort(host, p))
		}),
	}
	// Writes go through the page cache, as with Kafka's default flush
	// policy: they survive the process being killed, not a power cut.
	// Per-batch fsync (kfake.SyncWrites) cost two thirds of the write rate.
	if dataDir != "" {
		opts = append(opts, kfake.DataDir(dataDir))
	}
	for _, o := range options {
		o(&opts)
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded broker on %s: %w", addr, err)
	}
	return &Broker{cluster: c}, nil
}

// Addr is the address clients bootstrap from.
func (b *Broker) Addr() string { return b.cluster.ListenAddrs()[0] }

// Close stops the broker, persisting its state when it has a data dir.
func (b *Broker) Close() { b.cluster.Close() }
