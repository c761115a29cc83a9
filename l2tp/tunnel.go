package l2tp

import (
	"crypto/md5"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"
)

// Role says which end of a tunnel we are.
type Role uint8

// Roles.
const (
	RoleLNS Role = iota // answers SCCRQ and ICRQ
	RoleLAC             // sends SCCRQ and ICRQ
)

// TunnelState is the control connection state (RFC 2661 §7.2).
//
//	LNS:  Idle --SCCRQ/SCCRP--> WaitCtlConn --SCCCN--> Established
//	LAC:  Idle --Open/SCCRQ--> WaitCtlReply --SCCRP/SCCCN--> Established
//	any --Close/StopCCN sent or StopCCN received--> Closing --acked or hold time--> Closed
//	any --retransmissions exhausted--> Closed
type TunnelState uint8

// Tunnel states.
const (
	TunnelIdle TunnelState = iota
	TunnelWaitCtlReply
	TunnelWaitCtlConn
	TunnelEstablished
	TunnelClosing
	TunnelClosed
)

var tunnelStateNames = [...]string{"idle", "wait-ctl-reply", "wait-ctl-conn", "established", "closing", "closed"}

func (s TunnelState) String() string {
	if int(s) < len(tunnelStateNames) {
		return tunnelStateNames[s]
	}
	return fmt.Sprintf("TunnelState(%d)", uint8(s))
}

// ErrBadTransition is returned when an owner asks a tunnel for something its
// state does not allow.
var ErrBadTransition = errors.New("l2tp: invalid in this state")

// TunnelConfig configures one tunnel.
type TunnelConfig struct {
	Role     Role
	LocalID  uint16 // our Assigned Tunnel ID, non-zero
	HostName string
	// VendorName and FirmwareRevision are advertised in SCCRQ/SCCRP.
	VendorName       string
	FirmwareRevision uint16
	// Secret is the tunnel secret (RFC 2661 §4.2, §5.1.1). With a secret we
	// challenge the peer and require a correct response. A LNS may instead
	// set LookupSecret, called with the peer's Host Name from the SCCRQ.
	Secret       []byte
	LookupSecret func(hostName string) ([]byte, bool)
	// RequireAuth refuses (StopCCN result 4) a peer for which no secret is
	// known.
	RequireAuth bool
	// HideAVPs hides the proxy authentication response we send (LAC).
	HideAVPs bool
	Channel  ChannelConfig
	// HelloInterval is the keepalive period after the last message from
	// the peer (60 s). HoldTime is how long a closing tunnel keeps its
	// state to acknowledge retransmissions (RetransmitMax × 2).
	HelloInterval, HoldTime time.Duration
	// CallSetupTimeout bounds the time from ICRQ to ICCN; a call still
	// unconnected then is cleared with CDN result 10 (30 s).
	CallSetupTimeout time.Duration
	// Rand supplies challenges and random vectors (crypto/rand when nil).
	Rand io.Reader
}

// EventKind says what happened on a tunnel.
type EventKind uint8

// Event kinds.
const (
	EventTunnelUp   EventKind = iota + 1
	EventTunnelDown           // Result says why; the tunnel's calls went down first
	EventCallUp               // a call is established; Call is set
	EventCallDown             // an established call ended; Result says why
	EventCallFailed           // a call ended before it was established; Result says why
)

// An Event is reported to the tunnel's owner after a transition.
type Event struct {
	Kind      EventKind
	SessionID uint16 // local session ID for call events
	Call      *CallInfo
	Result    Result
	Err       error // a protocol or timeout error behind a down event
}

// Effects are what the owner performs after a call into a Tunnel: packets
// to send to the peer (whole UDP payloads), then events to handle.
type Effects struct {
	Send   [][]byte
	Events []Event
}

// SessionState is the state of one call (RFC 2661 §7.4.1, §7.4.2).
//
//	LNS:  (ICRQ/ICRP) WaitConnect --ICCN--> Established
//	LAC:  (Call/ICRQ) WaitReply --ICRP/ICCN--> Established
//	any --CDN sent or received, or tunnel down--> gone
type SessionState uint8

// Session states.
const (
	SessionWaitReply SessionState = iota + 1
	SessionWaitConnect
	SessionEstablished
)

var sessionStateNames = [...]string{"", "wait-reply", "wait-connect", "established"}

func (s SessionState) String() string {
	if int(s) < len(sessionStateNames) && s != 0 {
		return sessionStateNames[s]
	}
	return fmt.Sprintf("SessionState(%d)", uint8(s))
}

var eventKindNames = [...]string{"", "tunnel-up", "tunnel-down", "call-up", "call-down", "call-failed"}

func (k EventKind) String() string {
	if int(k) < len(eventKindNames) && k != 0 {
		return eventKindNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

type setupEntry struct {
	sid      uint16
	deadline time.Time
}

// addCall registers a new, unestablished call.
func (t *Tunnel) addCall(now time.Time, sid uint16, c *call) {
	c.setup = now.Add(t.cfg.CallSetupTimeout)
	t.calls[sid] = c
	t.setupQ = append(t.setupQ, setupEntry{sid, c.setup})
}

// setupDeadline is the earliest setup deadline of a call not yet
// established (zero when none).
func (t *Tunnel) setupDeadline() time.Time {
	for len(t.setupQ) > 0 {
		q := t.setupQ[0]
		if c := t.calls[q.sid]; c != nil && c.state != SessionEstablished && c.setup.Equal(q.deadline) {
			return q.deadline
		}
		t.setupQ = t.setupQ[1:]
	}
	return time.Time{}
}

// AwaitingConnect reports whether our session sid was answered with ICRP
// and waits for the LAC's ICCN (LNS).
func (t *Tunnel) AwaitingConnect(sid uint16) bool {
	c := t.calls[sid]
	return c != nil && c.state == SessionWaitConnect
}

// callEnded reports the end of call sid: EventCallDown if it was
// established, EventCallFailed otherwise.
func callEnded(sid uint16, c *call, r Result, e *Effects) {
	k := EventCallFailed
	if c.state == SessionEstablished {
		k = EventCallDown
	}
	e.Events = append(e.Events, Event{Kind: k, SessionID: sid, Result: r})
}

type call struct {
	state  SessionState
	setup  time.Time // deadline for reaching Established
	info   CallInfo
	params CallParams // LAC
}

// A Tunnel is one control connection with its calls, as a sans-I/O value
// owned by one goroutine. Feed it received control packets (Receive), the
// time (Tick at Deadline) and owner commands (Open, Call, CloseCall,
// Close); perform the returned Effects.
type Tunnel struct {
	cfg       TunnelConfig
	ch        *Channel
	state     TunnelState
	peerID    uint16
	peerHost  string
	secret    []byte
	challenge []byte // ours, when we challenged
	lastRx    time.Time
	helloAt   time.Time
	closeAt   time.Time // Closing: when the state is dropped
	// initiatedClose: we sent StopCCN, so the state can go once it is
	// acknowledged.
	initiatedClose bool
	calls          map[uint16]*call
	// setupQ holds the calls not yet established in creation order, which
	// is also deadline order (one CallSetupTimeout); stale entries are
	// skipped lazily.
	setupQ     []setupEntry
	nextSID    uint16
	nextSerial uint32
}

// NewTunnel returns a tunnel in state Idle. A LAC then calls Open; a LNS
// passes the SCCRQ to Receive.
func NewTunnel(cfg TunnelConfig) *Tunnel {
	if cfg.HelloInterval == 0 {
		cfg.HelloInterval = 60 * time.Second
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	cfg.Channel = cfg.Channel.withDefaults()
	if cfg.HoldTime == 0 {
		cfg.HoldTime = 2 * cfg.Channel.RetransmitMax
	}
	if cfg.CallSetupTimeout == 0 {
		cfg.CallSetupTimeout = 30 * time.Second
	}
	return &Tunnel{cfg: cfg, ch: NewChannel(cfg.Channel), calls: map[uint16]*call{}, nextSID: 1, secret: cfg.Secret}
}

// State returns the tunnel state.
func (t *Tunnel) State() TunnelState { return t.state }

// LocalID is our tunnel ID.
func (t *Tunnel) LocalID() uint16 { return t.cfg.LocalID }

// PeerID is the peer's Assigned Tunnel ID (0 until known).
func (t *Tunnel) PeerID() uint16 { return t.peerID }

// PeerHostName is the Host Name the peer announced.
func (t *Tunnel) PeerHostName() string { return t.peerHost }

// Calls is the number of calls (sessions) in any state.
func (t *Tunnel) Calls() int { return len(t.calls) }

// CallState returns the info of call sid (ours) and its state.
func (t *Tunnel) CallState(sid uint16) (CallInfo, SessionState, bool) {
	c, ok := t.calls[sid]
	if !ok {
		return CallInfo{}, 0, false
	}
	return c.info, c.state, true
}

// Deadline is when Tick must next be called (zero: never).
func (t *Tunnel) Deadline() time.Time {
	d := t.ch.Deadline()
	earlier := func(x time.Time) {
		if !x.IsZero() && (d.IsZero() || x.Before(d)) {
			d = x
		}
	}
	switch t.state {
	case TunnelEstablished:
		earlier(t.helloAt)
		earlier(t.setupDeadline())
	case TunnelClosing:
		earlier(t.closeAt)
	case TunnelClosed:
		return time.Time{}
	}
	return d
}

func (t *Tunnel) random(n int) []byte {
	b := make([]byte, n)
	_, _ = io.ReadFull(t.cfg.Rand, b)
	return b
}

// chapResponse is MD5(message type + secret + challenge) (RFC 2661 §4.2,
// §5.1.1: the CHAP ID is the type of the message carrying the response).
func chapResponse(mt MsgType, secret, challenge []byte) []byte {
	h := md5.New()
	h.Write([]byte{byte(mt)})
	h.Write(secret)
	h.Write(challenge)
	return h.Sum(nil)
}

func (t *Tunnel) send(now time.Time, sid uint16, m *Message, e *Effects) {
	var hider *Hider
	if t.cfg.HideAVPs && len(t.secret) > 0 {
		hider = &Hider{Secret: t.secret, RandomVector: t.random(16)}
	}
	e.Send = append(e.Send, t.ch.Send(now, sid, m.Append(nil, hider))...)
}

func (t *Tunnel) startMsg(mt MsgType) *Message {
	m := NewMessage(mt)
	m.Add(AVPProtocolVersion, []byte{1, 0})
	m.Add(AVPHostName, []byte(t.cfg.HostName))
	m.AddUint32(AVPFramingCapabilities, FramingSync|FramingAsync)
	m.AddUint32(AVPBearerCapabilities, BearerDigital|BearerAnalog)
	if t.cfg.FirmwareRevision != 0 {
		m.AddUint16(AVPFirmwareRevision, t.cfg.FirmwareRevision)
	}
	if t.cfg.VendorName != "" {
		m.Add(AVPVendorName, []byte(t.cfg.VendorName))
	}
	m.AddUint16(AVPAssignedTunnelID, t.cfg.LocalID)
	m.AddUint16(AVPReceiveWindowSize, t.cfg.Channel.ReceiveWindow)
	return m
}

// Open sends SCCRQ (LAC).
func (t *Tunnel) Open(now time.Time) (Effects, error) {
	var e Effects
	if t.cfg.Role != RoleLAC || t.state != TunnelIdle {
		return e, fmt.Errorf("%w: open in %s", ErrBadTransition, t.state)
	}
	m := t.startMsg(MsgSCCRQ)
	if len(t.secret) > 0 {
		t.challenge = t.random(16)
		m.Add(AVPChallenge, t.challenge)
	}
	t.state = TunnelWaitCtlReply
	t.lastRx = now
	t.send(now, 0, m, &e)
	return e, nil
}

// Close sends StopCCN with result r and tears down every call.
func (t *Tunnel) Close(now time.Time, r Result) Effects {
	var e Effects
	t.stop(now, r, nil, &e)
	return e
}

// stop sends StopCCN and moves to Closing.
func (t *Tunnel) stop(now time.Time, r Result, cause error, e *Effects) {
	if t.state == TunnelClosing || t.state == TunnelClosed {
		return
	}
	m := NewMessage(MsgStopCCN)
	m.AddUint16(AVPAssignedTunnelID, t.cfg.LocalID)
	m.Add(AVPResultCode, r.Append(nil))
	t.initiatedClose = true
	t.send(now, 0, m, e)
	t.down(now, r, cause, e)
}

// down reports the calls and the tunnel down and starts the hold time.
func (t *Tunnel) down(now time.Time, r Result, cause error, e *Effects) {
	for sid, c := range t.calls {
		delete(t.calls, sid)
		callEnded(sid, c, Result{Code: CDNLostCarrier, Message: "tunnel down"}, e)
	}
	t.state = TunnelClosing
	t.closeAt = now.Add(t.cfg.HoldTime)
	e.Events = append(e.Events, Event{Kind: EventTunnelDown, Result: r, Err: cause})
}

// Tick runs timers: retransmissions, delayed acks, Hello, the hold time.
func (t *Tunnel) Tick(now time.Time) Effects {
	var e Effects
	if t.state == TunnelClosed {
		return e
	}
	out, err := t.ch.Tick(now)
	e.Send = append(e.Send, out...)
	if err != nil {
		if t.state != TunnelClosing {
			t.down(now, Result{Code: StopGeneralError, Message: "peer unreachable"}, err, &e)
		}
		t.state = TunnelClosed
		return e
	}
	switch t.state {
	case TunnelClosing:
		if !now.Before(t.closeAt) {
			t.state = TunnelClosed
		}
	case TunnelEstablished:
		// RFC 2661 §6.5: Hello after a period of inactivity; its loss is
		// detected by the reliable channel.
		if !t.helloAt.IsZero() && !now.Before(t.helloAt) {
			t.helloAt = now.Add(t.cfg.HelloInterval)
			t.send(now, 0, NewMessage(MsgHello), &e)
		}
		for d := t.setupDeadline(); !d.IsZero() && !now.Before(d); d = t.setupDeadline() {
			t.closeCall(now, t.setupQ[0].sid, Result{Code: CDNTimeout, Message: "call setup timed out"}, &e)
		}
	}
	return e
}

// Receive handles one control packet for this tunnel. Parse errors of the
// message are handled here (StopCCN or CDN as RFC 2661 §4.1 says) and
// also returned for logging.
func (t *Tunnel) Receive(now time.Time, h *Header, body []byte) (Effects, error) {
	var e Effects
	if t.state == TunnelClosed {
		return e, nil
	}
	deliver, out := t.ch.Receive(now, h, body)
	e.Send = append(e.Send, out...)
	var errs []error
	for _, d := range deliver {
		t.lastRx = now
		if t.state == TunnelEstablished {
			t.helloAt = now.Add(t.cfg.HelloInterval)
		}
		if err := t.handle(now, d, &e); err != nil {
			errs = append(errs, err)
		}
	}
	if t.state == TunnelClosing && t.ch.Outstanding() == 0 && t.initiatedClose {
		t.state = TunnelClosed
	}
	return e, errors.Join(errs...)
}

func (t *Tunnel) handle(now time.Time, d Delivered, e *Effects) error {
	if t.state == TunnelClosing {
		return nil // only acknowledgements now
	}
	m, err := ParseMessage(d.Body, t.secret)
	if m == nil {
		return err // not even a Message Type: acknowledged, dropped
	}
	if err != nil {
		r := Result{Code: StopGeneralError, Error: ErrCodeLength, Message: err.Error()}
		if errors.Is(err, ErrMandatory) {
			r.Error = ErrCodeUnknownMandatory
		}
		if m.Type.session() {
			cr := Result{Code: CDNGeneralError, Error: r.Error, Message: r.Message}
			if c := t.calls[d.SessionID]; c != nil {
				t.closeCall(now, d.SessionID, cr, e)
			} else if psid, ok := m.Uint16(AVPAssignedSessionID); ok && m.Type == MsgICRQ && t.state == TunnelEstablished {
				cdn := NewMessage(MsgCDN)
				cdn.Add(AVPResultCode, cr.Append(nil))
				cdn.AddUint16(AVPAssignedSessionID, 0)
				t.send(now, psid, cdn, e)
			}
			return err
		}
		if errors.Is(err, ErrMandatory) || t.state != TunnelEstablished {
			t.stop(now, r, err, e)
		}
		return err
	}
	switch m.Type {
	case MsgSCCRQ:
		return t.rxSCCRQ(now, m, e)
	case MsgSCCRP:
		return t.rxSCCRP(now, m, e)
	case MsgSCCCN:
		return t.rxSCCCN(now, m, e)
	case MsgStopCCN:
		r, _ := m.Result()
		// Acknowledge at once (RFC 2661 §5.7), then hold state.
		e.Send = append(e.Send, t.ch.zlb())
		t.down(now, r, nil, e)
		return nil
	case MsgHello:
		return nil
	case MsgICRQ:
		return t.rxICRQ(now, d.SessionID, m, e)
	case MsgICRP:
		return t.rxICRP(now, d.SessionID, m, e)
	case MsgICCN:
		return t.rxICCN(d.SessionID, m, e)
	case MsgCDN:
		return t.rxCDN(d.SessionID, m, e)
	case MsgWEN, MsgSLI:
		return nil // informational for a LNS
	case MsgOCRQ:
		// Outgoing calls are not supported: refuse with CDN.
		psid, _ := m.Uint16(AVPAssignedSessionID)
		cdn := NewMessage(MsgCDN)
		cdn.Add(AVPResultCode, Result{Code: CDNNoFacilitiesPerm, Message: "outgoing calls not supported"}.Append(nil))
		cdn.AddUint16(AVPAssignedSessionID, 0)
		t.send(now, psid, cdn, e)
		return nil
	}
	return nil
}
