package l2tp

import (
	"errors"
	"time"
)

// ErrPeerUnreachable is returned by Channel.Tick when a control message was
// retransmitted MaxRetransmits times without acknowledgement: the tunnel
// must be torn down (RFC 2661 §5.8).
var ErrPeerUnreachable = errors.New("l2tp: control message not acknowledged")

// ChannelConfig tunes the reliable control channel (RFC 2661 §5.8).
// Zero values take the defaults in parentheses.
type ChannelConfig struct {
	// ReceiveWindow is the window we advertise in Receive Window Size and
	// the number of out-of-order messages we hold (8).
	ReceiveWindow uint16
	// RetransmitInitial is the first retransmission timeout (1 s); it
	// doubles on each retransmission up to RetransmitMax (8 s).
	RetransmitInitial, RetransmitMax time.Duration
	// MaxRetransmits is how many times a message is retransmitted before
	// the channel gives up (5).
	MaxRetransmits int
	// AckDelay is how long an acknowledgement waits for a message to ride
	// on before a ZLB is sent (100 ms).
	AckDelay time.Duration
}

func (c ChannelConfig) withDefaults() ChannelConfig {
	if c.ReceiveWindow == 0 {
		c.ReceiveWindow = 8
	}
	if c.RetransmitInitial == 0 {
		c.RetransmitInitial = time.Second
	}
	if c.RetransmitMax == 0 {
		c.RetransmitMax = 8 * time.Second
	}
	if c.RetransmitMax < c.RetransmitInitial {
		c.RetransmitMax = c.RetransmitInitial
	}
	if c.MaxRetransmits == 0 {
		c.MaxRetransmits = 5
	}
	if c.AckDelay == 0 {
		c.AckDelay = 100 * time.Millisecond
	}
	return c
}

// defaultPeerWindow is the peer's window when it sends no Receive Window
// Size AVP (RFC 2661 §4.4.3).
const defaultPeerWindow = 4

// A Channel is the reliable delivery of one tunnel's control messages
// (RFC 2661 §5.8), as a sans-I/O value: the owner feeds it received
// packets and the time, and transmits the packets it returns. It owns no
// timer; Deadline says when Tick must be called.
//
// Messages beyond the peer's receive window are queued and sent as
// acknowledgements open the window. Retransmissions back off
// exponentially up to RetransmitMax. Received messages are delivered in
// order; duplicates are re-acknowledged at once and out-of-order messages
// inside our window are held.
type Channel struct {
	cfg ChannelConfig
	// PeerTunnelID is the tunnel ID written in the headers we send.
	PeerTunnelID uint16
	peerWindow   uint16
	ns           uint16 // Ns of the next new message
	nr           uint16 // Ns we expect next from the peer
	inflight     []*pending
	queue        []*pending
	held         []Delivered
	ackAt        time.Time // zero: no acknowledgement owed
	failed       bool
	// beyondWindow counts received messages dropped because their Ns
	// lay beyond our receive window.
	beyondWindow uint64
}

type pending struct {
	ns       uint16
	sid      uint16
	body     []byte
	deadline time.Time
	tries    int
}

// A Delivered message is a control message the channel hands to its
// owner, in order: the header's session ID and the AVP bytes.
type Delivered struct {
	Ns        uint16
	SessionID uint16
	Body      []byte
}

// NewChannel returns a channel with Ns = Nr = 0.
func NewChannel(cfg ChannelConfig) *Channel {
	return &Channel{cfg: cfg.withDefaults(), peerWindow: defaultPeerWindow}
}

// Config returns the channel's configuration with defaults applied.
func (c *Channel) Config() ChannelConfig { return c.cfg }

// SetPeerWindow records the peer's Receive Window Size (0 is ignored).
func (c *Channel) SetPeerWindow(n uint16) {
	if n > 0 {
		c.peerWindow = n
	}
}

// Outstanding is the number of messages sent or queued and not yet
// acknowledged.
func (c *Channel) Outstanding() int { return len(c.inflight) + len(c.queue) }

// BeyondWindow is the number of received messages dropped because their
// Ns lay beyond our receive window.
func (c *Channel) BeyondWindow() uint64 { return c.beyondWindow }

// Nr is the next Ns expected from the peer.
func (c *Channel) Nr() uint16 { return c.nr }

// packet encodes a control packet.
func (c *Channel) packet(ns, sid uint16, body []byte) []byte {
	h := Header{Control: true, HasLength: true, HasSeq: true, TunnelID: c.PeerTunnelID, SessionID: sid, Ns: ns, Nr: c.nr}
	b := make([]byte, 0, h.Len()+len(body))
	b = h.Append(b, len(body))
	return append(b, body...)
}

func (c *Channel) rto(tries int) time.Duration {
	d := c.cfg.RetransmitInitial
	for range tries {
		d *= 2
		if d >= c.cfg.RetransmitMax {
			return c.cfg.RetransmitMax
		}
	}
	return d
}

// Send queues one control message (the AVP bytes from Message.Append) for
// session sid (0 for tunnel messages) and returns the packets to transmit
// now: none when the peer's window is full.
func (c *Channel) Send(now time.Time, sid uint16, body []byte) [][]byte {
	c.queue = append(c.queue, &pending{ns: c.ns, sid: sid, body: body})
	c.ns++
	return c.flush(now, nil)
}

// flush moves queued messages into the peer's window.
func (c *Channel) flush(now time.Time, out [][]byte) [][]byte {
	for len(c.queue) > 0 && len(c.inflight) < int(c.peerWindow) {
		p := c.queue[0]
		c.queue = c.queue[1:]
		p.deadline = now.Add(c.rto(0))
		c.inflight = append(c.inflight, p)
		out = append(out, c.packet(p.ns, p.sid, p.body))
		c.ackAt = time.Time{} // Nr rides on this message
	}
	return out
}

// zlb is an acknowledgement without a message (RFC 2661 §5.8).
func (c *Channel) zlb() []byte {
	c.ackAt = time.Time{}
	return c.packet(c.ns, 0, nil)
}

// Receive processes one received control packet (h.Control is set) with
// payload body. It returns the messages now deliverable in order and the
// packets to transmit (acknowledgements, and queued messages the peer's
// acknowledgement let into its window). A ZLB only acknowledges.
// Delivered bodies alias body or earlier held payloads (copied).
func (c *Channel) Receive(now time.Time, h *Header, body []byte) (deliver []Delivered, out [][]byte) {
	c.ack(h.Nr)
	if len(body) == 0 {
		return nil, c.flush(now, nil)
	}
	switch {
	case h.Ns == c.nr:
		deliver = append(deliver, Delivered{Ns: h.Ns, SessionID: h.SessionID, Body: body})
		c.nr++
		for {
			i := c.heldIndex(c.nr)
			if i < 0 {
				break
			}
			deliver = append(deliver, c.held[i])
			c.held = append(c.held[:i], c.held[i+1:]...)
			c.nr++
		}
		if c.ackAt.IsZero() {
			c.ackAt = now.Add(c.cfg.AckDelay)
		}
	case seqLess(h.Ns, c.nr):
		// Duplicate: our ack was lost. Re-ack at once (RFC 2661 §5.8).
		out = append(out, c.zlb())
	case h.Ns-c.nr < c.cfg.ReceiveWindow:
		if c.heldIndex(h.Ns) < 0 {
			c.held = append(c.held, Delivered{Ns: h.Ns, SessionID: h.SessionID, Body: append([]byte(nil), body...)})
		}
		out = append(out, c.zlb()) // tell the peer where we are
	default:
		// Beyond our window: drop; the peer will retransmit.
		c.beyondWindow++
	}
	return deliver, c.flush(now, out)
}

func (c *Channel) heldIndex(ns uint16) int {
	for i := range c.held {
		if c.held[i].Ns == ns {
			return i
		}
	}
	return -1
}

// ack drops the in-flight messages nr acknowledges. An nr that
// acknowledges messages never sent is ignored.
func (c *Channel) ack(nr uint16) {
	if len(c.inflight) == 0 {
		return
	}
	last := c.inflight[len(c.inflight)-1].ns
	if nr != last+1 && !seqLess(nr, last+1) {
		return
	}
	n := 0
	for n < len(c.inflight) && seqLess(c.inflight[n].ns, nr) {
		n++
	}
	c.inflight = c.inflight[n:]
}

// Deadline is when Tick must next be called; zero when nothing is pending.
func (c *Channel) Deadline() time.Time {
	var d time.Time
	for _, p := range c.inflight {
		if d.IsZero() || p.deadline.Before(d) {
			d = p.deadline
		}
	}
	if !c.ackAt.IsZero() && (d.IsZero() || c.ackAt.Before(d)) {
		d = c.ackAt
	}
	return d
}

// Tick retransmits expired messages and sends an owed acknowledgement. It
// returns ErrPeerUnreachable once a message has been retransmitted
// MaxRetransmits times and timed out again; the channel then stays failed.
func (c *Channel) Tick(now time.Time) ([][]byte, error) {
	if c.failed {
		return nil, ErrPeerUnreachable
	}
	var out [][]byte
	for _, p := range c.inflight {
		if now.Before(p.deadline) {
			continue
		}
		if p.tries >= c.cfg.MaxRetransmits {
			c.failed = true
			return nil, ErrPeerUnreachable
		}
		p.tries++
		p.deadline = now.Add(c.rto(p.tries))
		out = append(out, c.packet(p.ns, p.sid, p.body))
		c.ackAt = time.Time{}
	}
	if !c.ackAt.IsZero() && !now.Before(c.ackAt) {
		out = append(out, c.zlb())
	}
	return out, nil
}
