package tun

import (
	"errors"
	"net"

	"github.com/bngbox/bngbox/pkg/dataplane"
)

// NewL2TPSession attaches a session to an L2TP call: the call's IP writer
// feeds the session (held until Up, then written to the TUN device), and
// what the kernel routes into the device goes out with Call.SendPPP.
func (d *Dataplane) NewL2TPSession(p dataplane.L2TPParams) (dataplane.Session, error) {
	if p.Call == nil {
		return nil, errors.New("tun: L2TP session without a call")
	}
	s := &session{
		dp:    d,
		call:  p.Call,
		drops: &d.l2tpDrops,
		hold:  holdQueue{limit: d.opts.HoldFrames},
		log:   d.log.With("tid", p.TunnelID, "sid", p.SessionID),
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, net.ErrClosed
	}
	d.l2tp[s] = struct{}{}
	d.mu.Unlock()
	// The call delivers only IPv4/IPv6 here, from its socket reader.
	p.Call.SetIPWriter(s.receive)
	return s, nil
}

// removeL2TP forgets an L2TP session (Close).
func (d *Dataplane) removeL2TP(s *session) {
	d.mu.Lock()
	if d.l2tp != nil {
		delete(d.l2tp, s)
	}
	d.mu.Unlock()
}

// L2TPDrops returns the L2TP sessions' non-zero drop counters by reason.
func (d *Dataplane) L2TPDrops() map[string]uint64 { return d.l2tpDrops.snapshot() }
