package server

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/falcon-chat/falcon/libs/connlimit"
)

// Sizes every server enforces. The largest valid request (a thread created
// with 1,000 members of 128-byte ids) is about 140 KB; the largest response
// is bounded by construction (page sizes, list views that carry member
// counts, ListMessages' byte budget) well under MaxResponseBytes.
const (
	MaxRequestBytes  = 1 << 20
	MaxResponseBytes = 4 << 20
	MaxHeaderBytes   = 64 << 10
)

// Limits bound what clients can hold of a server: connections, time and
// streams. Streaming responses (server-sent events) set their own write
// deadlines; everything else is bounded by these.
type Limits struct {
	// MaxConnections is the most client connections the process holds at
	// once, gRPC and REST together (the admin listener is not counted, so
	// that monitoring still works under load). Further connections wait to
	// be accepted.
	MaxConnections int
	// ReadTimeout bounds reading a whole REST request, body included: a
	// body trickled byte by byte cannot hold a connection.
	ReadTimeout time.Duration
	// WriteTimeout bounds handling a REST request and writing its answer.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection (REST) or a gRPC
	// connection with no RPC for this long.
	IdleTimeout time.Duration
	// MaxStreams is the concurrent RPCs one gRPC connection may have.
	MaxStreams uint32
	// KeepaliveMinInterval is the shortest interval between a client's
	// keepalive pings; a client pinging more often is disconnected.
	KeepaliveMinInterval time.Duration
}

// DefaultLimits are the limits unless flags say otherwise.
func DefaultLimits() Limits {
	return Limits{
		MaxConnections:       10000,
		ReadTimeout:          30 * time.Second,
		WriteTimeout:         60 * time.Second,
		IdleTimeout:          2 * time.Minute,
		MaxStreams:           256,
		KeepaliveMinInterval: 10 * time.Second,
	}
}

// RegisterFlags adds the limits' flags to fs, defaulting to DefaultLimits.
func (l *Limits) RegisterFlags(fs *flag.FlagSet) {
	d := DefaultLimits()
	fs.IntVar(&l.MaxConnections, "max-connections", d.MaxConnections, "most client connections (gRPC and REST together) held at once; more wait to be accepted")
	fs.DurationVar(&l.ReadTimeout, "http-read-timeout", d.ReadTimeout, "longest time to read a REST request, body included")
	fs.DurationVar(&l.WriteTimeout, "http-write-timeout", d.WriteTimeout, "longest time to handle a REST request and write its answer (event streams excepted)")
	fs.DurationVar(&l.IdleTimeout, "idle-timeout", d.IdleTimeout, "close a REST keep-alive or gRPC connection idle this long")
	fs.Var((*uint32Value)(&l.MaxStreams), "grpc-max-streams", "most concurrent RPCs on one gRPC connection")
	l.MaxStreams = d.MaxStreams
	fs.DurationVar(&l.KeepaliveMinInterval, "grpc-keepalive-min-interval", d.KeepaliveMinInterval, "shortest interval between a gRPC client's keepalive pings; more often and it is disconnected")
}

// Validate says what is wrong with the limits.
func (l Limits) Validate() error {
	var errs []error
	if l.MaxConnections < 1 {
		errs = append(errs, fmt.Errorf("--max-connections=%d: want at least 1", l.MaxConnections))
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"http-read-timeout", l.ReadTimeout}, {"http-write-timeout", l.WriteTimeout}, {"idle-timeout", l.IdleTimeout}, {"grpc-keepalive-min-interval", l.KeepaliveMinInterval}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("--%s=%s: want a positive duration", d.flag, d.v))
		}
	}
	if l.MaxStreams < 1 {
		errs = append(errs, errors.New("--grpc-max-streams: want at least 1"))
	}
	return errors.Join(errs...)
}

// orDefaults fills what a caller left zero (tests build Serving by hand).
func (l Limits) orDefaults() Limits {
	d := DefaultLimits()
	if l.MaxConnections == 0 {
		l.MaxConnections = d.MaxConnections
	}
	if l.ReadTimeout == 0 {
		l.ReadTimeout = d.ReadTimeout
	}
	if l.WriteTimeout == 0 {
		l.WriteTimeout = d.WriteTimeout
	}
	if l.IdleTimeout == 0 {
		l.IdleTimeout = d.IdleTimeout
	}
	if l.MaxStreams == 0 {
		l.MaxStreams = d.MaxStreams
	}
	if l.KeepaliveMinInterval == 0 {
		l.KeepaliveMinInterval = d.KeepaliveMinInterval
	}
	return l
}

type uint32Value uint32

func (v *uint32Value) String() string { return fmt.Sprint(uint32(*v)) }

func (v *uint32Value) Set(s string) error {
	var n uint32
	if _, err := fmt.Sscan(s, &n); err != nil {
		return fmt.Errorf("want a non-negative integer: %w", err)
	}
	*v = uint32Value(n)
	return nil
}

// clientConnections is the process's cap on client connections, with a
// gauge of those open.
func clientConnections(n int, reg prometheus.Registerer) *connlimit.Limiter {
	open := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "falcon_client_connections", Help: "Client connections (gRPC and REST) held open.",
	})
	reg.MustRegister(open)
	lim := connlimit.New(n)
	lim.Opened, lim.Closed = open.Inc, open.Dec
	return lim
}
