package tun

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/bngbox/bngbox/internal/afpacket"
	"github.com/bngbox/bngbox/pkg/dataplane"
)

// port is one access interface: an AF_PACKET socket, its reader goroutine
// and the session demux table.
type port struct {
	dp   *Dataplane
	conn *afpacket.Conn
	disc dataplane.DiscoveryFunc
	log  *slog.Logger
	done chan struct{} // closed when readLoop returns

	mu       sync.RWMutex
	sessions map[demuxKey]*session // guarded by mu
	closed   bool                  // guarded by mu

	drops dropCounters
}

var _ dataplane.Port = (*port)(nil)

func (p *port) Name() string              { return p.conn.Name() }
func (p *port) MAC() net.HardwareAddr     { return p.conn.MAC() }
func (p *port) Drops() map[string]uint64  { return p.drops.snapshot() }
func (p *port) WriteFrame(f []byte) error { return p.conn.WriteFrame(f) }

func (p *port) add(s *session) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return net.ErrClosed
	}
	if _, dup := p.sessions[s.key]; dup {
		return fmt.Errorf("tun: session %#04x from %x already exists", s.key.sid, s.key.mac)
	}
	p.sessions[s.key] = s
	return nil
}

func (p *port) remove(s *session) {
	p.mu.Lock()
	if p.sessions[s.key] == s {
		delete(p.sessions, s.key)
	}
	p.mu.Unlock()
}

func (p *port) lookup(k demuxKey) *session {
	p.mu.RLock()
	s := p.sessions[k]
	p.mu.RUnlock()
	return s
}

// readLoop reads batches of frames until the socket is closed.
func (p *port) readLoop() {
	defer close(p.done)
	var f sessionFrame
	if err := p.conn.Serve(p.log, func(b []byte) { p.handle(b, &f) }); err != nil {
		p.log.Error("port read failed", slog.Any("err", err))
	}
}

// handle dispatches one received frame. f is scratch space.
func (p *port) handle(b []byte, f *sessionFrame) {
	if err := parseEth(b, &f.Eth); err != nil {
		p.drops.add(parseDrop(err))
		return
	}
	if f.Eth.EtherType == etherTypeDiscovery {
		if p.disc == nil {
			p.drops.add(dropNoDiscovery)
			return
		}
		p.disc(p, b)
		return
	}
	if err := parseSession(b, f); err != nil {
		p.drops.add(parseDrop(err))
		return
	}
	s := p.lookup(frameKey(b, f))
	if s == nil {
		p.drops.add(dropUnknownSession)
		return
	}
	s.receive(f.Proto, f.Payload)
}

// close stops the reader and closes every session of the port.
func (p *port) close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	sessions := make([]*session, 0, len(p.sessions))
	for _, s := range p.sessions {
		sessions = append(sessions, s)
	}
	p.mu.Unlock()
	err := p.conn.Close()
	<-p.done
	errs := []error{err}
	for _, s := range sessions {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}
