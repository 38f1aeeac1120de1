// Package connlimit caps the connections a process holds open at once,
// across any number of listeners: past the cap, accepted connections wait
// for a slot before they are served.
package connlimit

import (
	"net"
	"sync"
)

// Limiter is a number of connection slots shared by the listeners it wraps.
type Limiter struct {
	slots chan struct{}
	// Opened and Closed, if set, are called as connections take and give
	// back a slot (for a gauge of open connections).
	Opened, Closed func()
}

// New returns a Limiter of n slots.
func New(n int) *Limiter {
	return &Limiter{slots: make(chan struct{}, n)}
}

// Wrap returns l with its connections counted against the cap.
func (c *Limiter) Wrap(l net.Listener) net.Listener {
	return &listener{Listener: l, lim: c, closed: make(chan struct{})}
}

type listener struct {
	net.Listener
	lim       *Limiter
	closeOnce sync.Once
	closed    chan struct{}
}

// Accept takes a connection, then waits for a slot for it: waiting for the
// slot first would have every idle listener hold one.
func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	select {
	case l.lim.slots <- struct{}{}:
	case <-l.closed:
		_ = c.Close()
		return nil, net.ErrClosed
	}
	if l.lim.Opened != nil {
		l.lim.Opened()
	}
	return &slotConn{Conn: c, release: l.lim.release}, nil
}

func (c *Limiter) release() {
	if c.Closed != nil {
		c.Closed()
	}
	<-c.slots
}

func (l *listener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

type slotConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
