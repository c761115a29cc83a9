// Package fake is an in-memory dataplane for unit tests of the session and
// discovery layers. Ports record the frames written to them; sessions record
// the control frames sent and the configs passed to Up; tests inject
// discovery and control frames and set the Stats a session reports.
// Everything is synchronous: an injected frame is delivered before Inject
// returns, on the caller's goroutine.
package fake

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"

	"github.com/bngbox/bngbox/pkg/dataplane"
)

// ErrClosed is returned by operations on closed objects.
var ErrClosed = net.ErrClosed

// A Dataplane is the fake backend.
type Dataplane struct {
	mu       sync.Mutex
	ports    map[string]*Port
	sessions []*Session
	nextUnit int
	closed   bool
}

var _ dataplane.Dataplane = (*Dataplane)(nil)

// New returns an empty fake dataplane.
func New() *Dataplane { return &Dataplane{ports: make(map[string]*Port)} }

// Kind returns "fake".
func (d *Dataplane) Kind() string { return dataplane.KindFake }

// OpenPort creates a port named ifname with a MAC derived from its order.
func (d *Dataplane) OpenPort(ifname string, disc dataplane.DiscoveryFunc) (dataplane.Port, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	if _, dup := d.ports[ifname]; dup {
		return nil, fmt.Errorf("fake: port %s already open", ifname)
	}
	p := &Port{name: ifname, disc: disc, mac: net.HardwareAddr{0x02, 0xfa, 0xce, 0, 0, byte(len(d.ports) + 1)}}
	p.drops = make(map[string]uint64)
	d.ports[ifname] = p
	return p, nil
}

// Port returns the open port named ifname, or nil.
func (d *Dataplane) Port(ifname string) *Port {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ports[ifname]
}

// NewPPPoESession registers a session; the port must come from d.
func (d *Dataplane) NewPPPoESession(p dataplane.PPPoEParams) (dataplane.Session, error) {
	pt, ok := p.Port.(*Port)
	if !ok {
		return nil, errors.New("fake: port is not a fake port")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	for _, s := range d.sessions {
		if !s.isClosed() && s.params.Port == p.Port && s.params.SessionID == p.SessionID &&
			s.params.Peer.String() == p.Peer.String() && slices.Equal(s.params.VLANs, p.VLANs) {
			return nil, fmt.Errorf("fake: session %#04x already exists", p.SessionID)
		}
	}
	s := &Session{dp: d, port: pt, params: p}
	d.sessions = append(d.sessions, s)
	return s, nil
}

// NewL2TPSession registers an L2TP session. It installs no IP writer on
// the call; control frames the session sends are recorded (Sent), not
// passed to the call.
func (d *Dataplane) NewL2TPSession(p dataplane.L2TPParams) (dataplane.Session, error) {
	if p.Call == nil {
		return nil, errors.New("fake: L2TP session without a call")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	s := &Session{dp: d, l2tp: &p}
	d.sessions = append(d.sessions, s)
	return s, nil
}

// Sessions returns every session created so far, closed ones included, in
// creation order.
func (d *Dataplane) Sessions() []*Session {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.sessions)
}

// Session returns the open session with this ID on any port, or nil.
func (d *Dataplane) Session(sid uint16) *Session {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.sessions {
		if s.params.SessionID == sid && !s.isClosed() {
			return s
		}
	}
	return nil
}

func (d *Dataplane) unit() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	u := d.nextUnit
	d.nextUnit++
	return u
}

// Close closes every session.
func (d *Dataplane) Close() error {
	d.mu.Lock()
	d.closed = true
	ss := slices.Clone(d.sessions)
	d.mu.Unlock()
	for _, s := range ss {
		s.Close()
	}
	return nil
}

// A Port is a fake access port.
type Port struct {
	name string
	mac  net.HardwareAddr
	disc dataplane.DiscoveryFunc

	mu      sync.Mutex
	written [][]byte          // guarded by mu
	drops   map[string]uint64 // guarded by mu
	// WriteErr, when set, is returned by WriteFrame (and SendControl).
	WriteErr error
}

var _ dataplane.Port = (*Port)(nil)

// Name is the interface name given to OpenPort.
func (p *Port) Name() string { return p.name }

// MAC is a locally administered address unique per fake dataplane.
func (p *Port) MAC() net.HardwareAddr { return p.mac }

// WriteFrame records a copy of frame.
func (p *Port) WriteFrame(frame []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.WriteErr != nil {
		return p.WriteErr
	}
	p.written = append(p.written, slices.Clone(frame))
	return nil
}

// Written returns copies of the frames written so far.
func (p *Port) Written() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.written)
}

// Drops returns the counters set with SetDrops.
func (p *Port) Drops() map[string]uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := make(map[string]uint64, len(p.drops))
	for k, v := range p.drops {
		m[k] = v
	}
	return m
}

// SetDrops sets a drop counter.
func (p *Port) SetDrops(reason string, n uint64) {
	p.mu.Lock()
	p.drops[reason] = n
	p.mu.Unlock()
}

// InjectDiscovery passes frame to the port's DiscoveryFunc as if received.
func (p *Port) InjectDiscovery(frame []byte) {
	if p.disc != nil {
		p.disc(p, slices.Clone(frame))
	}
}

// A Session is a fake session.
type Session struct {
	dp     *Dataplane
	port   *Port
	params dataplane.PPPoEParams
	l2tp   *dataplane.L2TPParams // nil for PPPoE sessions

	mu      sync.Mutex
	sent    []Frame                // guarded by mu
	ups     []dataplane.LinkConfig // guarded by mu
	iface   string                 // guarded by mu
	stats   dataplane.Stats        // guarded by mu
	closed  bool                   // guarded by mu
	upErr   error                  // guarded by mu
	closeNo int                    // guarded by mu
}

var _ dataplane.Session = (*Session)(nil)

// A Frame is one PPP frame sent with SendControl.
type Frame struct {
	Proto   uint16
	Payload []byte
}

// Params returns the parameters the session was created with.
func (s *Session) Params() dataplane.PPPoEParams { return s.params }

// L2TPParams returns the parameters of an L2TP session (ok false for PPPoE).
func (s *Session) L2TPParams() (dataplane.L2TPParams, bool) {
	if s.l2tp == nil {
		return dataplane.L2TPParams{}, false
	}
	return *s.l2tp, true
}

// SendControl records the frame.
func (s *Session) SendControl(proto uint16, payload []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.port != nil && s.port.WriteErr != nil { // L2TP sessions have no port
		return s.port.WriteErr
	}
	s.sent = append(s.sent, Frame{Proto: proto, Payload: slices.Clone(payload)})
	return nil
}

// Sent returns the control frames sent so far.
func (s *Session) Sent() []Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

// InjectControl delivers a control frame to the session's Control callback
// as if the subscriber had sent it. It reports false if the session is
// closed or has no callback.
func (s *Session) InjectControl(proto uint16, payload []byte) bool {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed || s.params.Control == nil {
		return false
	}
	s.params.Control(proto, slices.Clone(payload))
	return true
}

// FailUp makes the next Up calls return err (nil to stop).
func (s *Session) FailUp(err error) {
	s.mu.Lock()
	s.upErr = err
	s.mu.Unlock()
}

// Up records cfg and names the interface ppp<N> on the first call.
func (s *Session) Up(cfg dataplane.LinkConfig) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.upErr != nil {
		return s.upErr
	}
	if s.iface == "" {
		s.iface = fmt.Sprintf("ppp%d", s.dp.unit())
	}
	s.ups = append(s.ups, cfg)
	return nil
}

// Ups returns the configs passed to Up, in order.
func (s *Session) Ups() []dataplane.LinkConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ups)
}

// Interface is "" before the first successful Up.
func (s *Session) Interface() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.iface
}

// SetStats sets what Stats returns.
func (s *Session) SetStats(st dataplane.Stats) {
	s.mu.Lock()
	s.stats = st
	s.mu.Unlock()
}

// Stats returns the counters set with SetStats.
func (s *Session) Stats() dataplane.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Close marks the session closed; later calls are no-ops but counted.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeNo++
	s.closed = true
	return nil
}

// Closed reports whether Close was called.
func (s *Session) Closed() bool { return s.isClosed() }

// CloseCalls is how many times Close was called.
func (s *Session) CloseCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeNo
}

func (s *Session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
