package pppoe

import "net"

// An Event is what Handle reports besides its reply: nil, *NewSession or
// *PeerTerminated. Events own their memory (nothing aliases the frame).
type Event interface{ isEvent() }

// NewSession reports a PADS sent with a fresh session ID (RFC 2516 §5.4).
// The owner starts the PPP session and calls Server.Release when it ends.
type NewSession struct {
	Port  string
	Peer  net.HardwareAddr
	VLANs []uint16 // outer first; nil when untagged
	// TPIDs are the tag protocol IDs the peer used, parallel to VLANs
	// (e.g. 0x88a8, 0x8100). Session frames (0x8864) must use the same.
	TPIDs          []uint16
	SessionID      uint16
	ServiceName    string
	HostUniq       []byte // nil if the client sent none
	RelaySessionID []byte // nil if absent
	MaxPayload     uint16 // RFC 4638 value agreed (echoed), 0 if not offered
}

// PeerTerminated reports a PADT from the subscriber (RFC 2516 §5.5). It is
// reported once per session; the session ID stays allocated until the owner
// calls Server.Release.
type PeerTerminated struct {
	Port      string
	Peer      net.HardwareAddr
	VLANs     []uint16
	SessionID uint16
	Message   string // Generic-Error text if any
}

func (*NewSession) isEvent()     {}
func (*PeerTerminated) isEvent() {}
