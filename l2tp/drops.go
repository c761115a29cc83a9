package l2tp

import "sync/atomic"

// A DropReason is why an LNS or LAC dropped a received packet.
type DropReason int

// Drop reasons, as named by Drops.
const (
	// DropMalformed: the L2TP header (RFC 2661 §3.1) or the PPP frame in
	// a data message did not parse, or a message to tunnel 0 was not an
	// SCCRQ that parses.
	DropMalformed DropReason = iota
	// DropUnknownTunnel: a control or data message for a tunnel ID we do
	// not have, or from another address than the tunnel's peer.
	DropUnknownTunnel
	// DropUnknownSession: a data message for a session the tunnel does
	// not have (never established, or already closed).
	DropUnknownSession
	// DropOutOfWindow: a control message whose Ns lies beyond our receive
	// window (RFC 2661 §5.8); the peer retransmits it.
	DropOutOfWindow
	// DropLateData: a sequenced data message older than one already
	// received (RFC 2661 §5.4).
	DropLateData
	numDropReasons
)

var dropNames = [numDropReasons]string{
	DropMalformed:      "malformed",
	DropUnknownTunnel:  "unknown_tunnel",
	DropUnknownSession: "unknown_session",
	DropOutOfWindow:    "out_of_window",
	DropLateData:       "late_data",
}

func (r DropReason) String() string {
	if r < 0 || r >= numDropReasons {
		return "unknown"
	}
	return dropNames[r]
}

// dropCounters counts drops by reason; safe for concurrent use.
type dropCounters [numDropReasons]atomic.Uint64

func (d *dropCounters) add(r DropReason, n uint64) {
	if n > 0 {
		d[r].Add(n)
	}
}

// Drops returns the number of received packets dropped so far, by reason
// (DropReason.String), including the zero counts.
func (n *node) Drops() map[string]uint64 {
	out := make(map[string]uint64, numDropReasons)
	for r := range numDropReasons {
		out[r.String()] = n.drops[r].Load()
	}
	return out
}

// tunnelKnown reports whether tid is one of our tunnels.
func (n *node) tunnelKnown(tid uint16) bool {
	n.callsMu.RLock()
	defer n.callsMu.RUnlock()
	_, ok := n.tids[tid]
	return ok
}
