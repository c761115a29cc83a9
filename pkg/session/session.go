package session

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/bngbox/bngbox/pkg/aaa"
	"github.com/bngbox/bngbox/pkg/dataplane"
	"github.com/bngbox/bngbox/pkg/ippool"
	"github.com/bngbox/bngbox/pkg/ppp"
	"github.com/bngbox/bngbox/pkg/rate"
)

// Access is how a session reaches its subscriber besides PPP frames: the
// discovery/tunnel layer that created it (PPPoE PADT, L2TP CDN).
type Access interface {
	// Hangup tells the peer the session is over (PADT / CDN) unless the
	// peer itself ended it (peerGone), and frees the discovery-layer state
	// (session ID). Called once, from the session goroutine, last.
	Hangup(message string, peerGone bool)
}

// Params describe a new session from the discovery/tunnel layer.
type Params struct {
	Type       string // "pppoe" or "l2tp"
	Port       string // access interface or tunnel peer
	MAC        net.HardwareAddr
	VLANs      []uint16
	SID        uint16
	Tunnel     string
	MaxPayload int // RFC 4638 PPP-Max-Payload offered (0 = none)
	NASPortID  string
	NASPort    uint32
	PortType   aaa.PortType
	CallingSID string
	// TunnelAuth describes the L2TP tunnel (RFC 2868) for AAA; nil for PPPoE.
	TunnelAuth *aaa.Tunnel
	// Proxy, when set, is the LCP state and credentials an L2TP LAC
	// already negotiated with the subscriber: PPP starts from it
	// (ppp.Link.OpenProxy) and the credentials go to AAA without asking
	// the subscriber again. If the link cannot take it over, PPP is
	// negotiated from scratch.
	Proxy *ppp.Proxy
	// DP creates the dataplane session; control frames must be delivered
	// to the given function.
	DP     func(control func(proto uint16, payload []byte)) (dataplane.Session, error)
	Access Access
}

// Session is one subscriber's PPP conversation. Its fields belong to its
// goroutine (run); others talk to it through its channels.
type Session struct {
	m       *Manager
	id      string
	p       Params
	dp      dataplane.Session
	ctl     chan ctlFrame
	cmds    chan func()
	done    chan struct{}
	state   atomic.Value // State
	started time.Time

	// owned by run
	req         aaa.Request
	reply       *aaa.Reply
	ip          netip.Addr
	pool        *ippool.Pool
	ip6         netip.Prefix
	ifname      string
	rates       rate.Rates
	authRates   rate.Rates
	upAt        time.Time
	cause       aaa.TerminateCause
	acctStarted bool
	link        *ppp.Link
	ended       bool
	downMessage string
	localIfID   uint64
	peerIfID    uint64
	peerGone    bool
	pol         policy
}

type ctlFrame struct {
	proto uint16
	data  []byte
}

// ErrBusy is returned when a session's inbox is full.
var ErrBusy = errors.New("session busy")

// Start creates a session and starts its goroutine.
func (m *Manager) Start(p Params) (*Session, error) {
	s := &Session{
		m:       m,
		id:      m.deps.IDs.Next(),
		p:       p,
		ctl:     make(chan ctlFrame, 16),
		cmds:    make(chan func(), 8),
		done:    make(chan struct{}),
		started: time.Now(),
	}
	s.state.Store(Starting)
	if err := m.add(s); err != nil {
		return nil, err
	}
	dp, err := p.DP(s.control)
	if err != nil {
		m.remove(s)
		return nil, err
	}
	s.dp = dp
	go s.run()
	return s, nil
}

// ID is the session's Acct-Session-Id.
func (s *Session) ID() string { return s.id }

func (s *Session) stateNow() State { return s.state.Load().(State) }

// control is the dataplane's callback: copy and queue, never block.
func (s *Session) control(proto uint16, payload []byte) {
	f := ctlFrame{proto: proto, data: append([]byte(nil), payload...)}
	select {
	case s.ctl <- f:
	default:
		s.m.drops.inc("session-inbox-full")
	}
}

// do runs fn on the session goroutine. It returns false if the session is gone.
func (s *Session) do(ctx context.Context, fn func()) bool {
	select {
	case s.cmds <- fn:
		return true
	case <-s.done:
	case <-ctx.Done():
	}
	return false
}

// snapshot copies the session's state out of its goroutine.
func (s *Session) snapshot(ctx context.Context) (Info, bool) {
	ch := make(chan Info, 1)
	if !s.do(ctx, func() { ch <- s.info() }) {
		return Info{}, false
	}
	select {
	case in := <-ch:
		return in, true
	case <-s.done:
	case <-ctx.Done():
	}
	return Info{}, false
}

func (s *Session) info() Info {
	in := Info{
		ID: s.id, Type: s.p.Type, State: s.stateNow(), Ifname: s.ifname, User: s.req.User,
		IP: s.ip, IPv6: s.ip6, Started: s.started, Port: s.p.Port, VLANs: s.p.VLANs, MAC: s.p.MAC,
		CallingSID: s.p.CallingSID, CalledSID: s.m.config().CalledStationID, SID: s.p.SID, Tunnel: s.p.Tunnel,
		Rates: s.rates, AuthRates: s.authRates,
	}
	if s.dp != nil {
		in.Stats = s.dp.Stats()
	}
	if r := s.reply; r != nil {
		in.SessionTimeout, in.IdleTimeout = int64(r.SessionTimeout.Seconds()), int64(r.IdleTimeout.Seconds())
		in.InterimInterval, in.FilterID = int64(r.InterimInterval.Seconds()), r.FilterID
	}
	return in
}

// Terminate asks the session to end with an Acct-Terminate-Cause; hard
// skips the LCP Terminate exchange.
func (s *Session) Terminate(cause aaa.TerminateCause, hard bool) { s.terminate(cause, hard) }

func (s *Session) terminate(cause aaa.TerminateCause, hard bool) {
	go s.do(context.Background(), func() { s.close(cause, hard) })
}

// PeerHangup is called by the discovery/tunnel layer when the peer ended the
// session (PADT, CDN): no PPP exchange is possible any more.
func (s *Session) PeerHangup() {
	go s.do(context.Background(), func() { s.lowerDown(aaa.CauseUserRequest) })
}

// SetRates changes the session's rates live (source "coa" or "cli").
func (s *Session) SetRates(r rate.Rates, source string) {
	go s.do(context.Background(), func() { s.applyRates(r, source) })
}

// Change is a live change of a session's authorization (a CoA-Request,
// RFC 5176). Nil fields stay as they are. The session applies all of it in
// one step on its goroutine.
type Change struct {
	Rates *rate.Rates
	// SessionTimeout ends the session that long from now; 0 lifts the limit.
	SessionTimeout *time.Duration
	// IdleTimeout replaces the idle limit (idleness counted from now); 0
	// lifts it.
	IdleTimeout *time.Duration
	// InterimInterval replaces the interim accounting interval, the next
	// interim being due that long from now; 0 returns to the configured one.
	InterimInterval *time.Duration
	FilterID        *string
}

// IsZero reports whether c changes nothing.
func (c Change) IsZero() bool {
	return c.Rates == nil && c.SessionTimeout == nil && c.IdleTimeout == nil && c.InterimInterval == nil && c.FilterID == nil
}

// Apply applies c live (source "coa" or "cli").
func (s *Session) Apply(c Change, source string) {
	go s.do(context.Background(), func() { s.applyChange(c, source, time.Now()) })
}

// RestoreRates returns to the authorized rates.
func (s *Session) RestoreRates(source string) {
	go s.do(context.Background(), func() { s.applyRates(s.authRates, source) })
}
