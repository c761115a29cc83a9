// Package dataplane is the seam between session control and packet forwarding.
//
// A Dataplane opens access ports (PPPoE) and creates one Session per PPP
// conversation. Control frames (LCP, PAP, CHAP, IPCP, IPv6CP, ...) travel
// between the session and its owner through SendControl and the Control
// callback; IP frames never reach the owner: the dataplane moves them between
// the access side and the session's network interface (pppN or its TUN twin).
//
// Implementations: tun (AF_PACKET + one TUN device per session; works
// anywhere), kernel (AF_PPPOX + /dev/ppp, l2tp generic netlink), fake (unit
// tests).
package dataplane

import (
	"errors"
	"net"
	"net/netip"
)

// ErrUnsupported is returned (wrapped, naming what is missing) when a backend
// cannot run on this kernel.
var ErrUnsupported = errors.New("unsupported by this kernel")

// Dataplane creates access ports and sessions.
type Dataplane interface {
	// Kind is "userspace", "kernel" or "fake".
	Kind() string
	// OpenPort starts receiving PPPoE frames on an access interface.
	// Discovery frames (EtherType 0x8863) are passed to disc, one call per
	// frame, from the port's reader goroutine; disc must not block and must
	// not retain frame after it returns.
	OpenPort(ifname string, disc DiscoveryFunc) (Port, error)
	// NewPPPoESession registers a PPPoE session so that its session frames
	// (0x8864) are demultiplexed to it. It is cheap: no interface exists yet.
	NewPPPoESession(p PPPoEParams) (Session, error)
	// NewL2TPSession attaches a session to an established L2TP call: the
	// call's IP frames go to the session (held until Up), and frames the
	// session sends (control or IP) go out on the call. Control frames
	// from the call do not pass through the userspace dataplane: the LNS
	// delivers them to its handler (l2tp.Handler.CallData). The kernel
	// dataplane moves the call's data into the kernel and delivers the
	// control frames it reads to L2TPParams.Control.
	NewL2TPSession(p L2TPParams) (Session, error)
	// Close closes every port and session.
	Close() error
}

// DiscoveryFunc receives one PPPoE discovery frame: the whole Ethernet frame
// with any 802.1Q/802.1ad tags in-band (as they were on the wire).
type DiscoveryFunc func(port Port, frame []byte)

// Port is one access interface.
type Port interface {
	Name() string
	MAC() net.HardwareAddr
	// WriteFrame sends one whole Ethernet frame (tags in-band).
	WriteFrame(frame []byte) error
	// Counters of frames the port dropped, by reason.
	Drops() map[string]uint64
}

// PPPoEParams identifies a PPPoE session on a port.
type PPPoEParams struct {
	Port  Port
	Peer  net.HardwareAddr // subscriber MAC
	VLANs []uint16         // VLAN IDs, outer first; empty when untagged
	// VLANProtos are the TPIDs of VLANs (same length), as seen on the
	// subscriber's discovery frames. Nil means 0x8100 for one tag and
	// 0x88a8 (outer) + 0x8100 (inner) for two.
	VLANProtos []uint16
	SessionID  uint16
	// Control is called for every PPP frame whose protocol is not IPv4 or
	// IPv6 (LCP, authentication, NCPs, unknown protocols), from the
	// dataplane's reader goroutine. It must not block or retain payload.
	Control func(proto uint16, payload []byte)
}

// L2TPCall is the part of an L2TP call (*l2tp.Call) a dataplane needs.
type L2TPCall interface {
	// SendPPP sends one PPP frame (protocol + information field).
	SendPPP(proto uint16, payload []byte) error
	// SetIPWriter routes the call's IPv4/IPv6 frames to w (nil: stop).
	SetIPWriter(w func(proto uint16, pkt []byte))
}

// L2TPParams identifies an L2TP session (RFC 2661) terminated here.
type L2TPParams struct {
	Call      L2TPCall
	TunnelID  uint16 // ours
	SessionID uint16 // ours

	// The rest serves backends that hand the session's data to the kernel
	// (kernel: l2tp_ppp); the userspace backend uses Call only.

	PeerTunnelID, PeerSessionID uint16
	Local                       netip.AddrPort // the LNS socket's address
	Peer                        netip.AddrPort // the LAC's address
	// Sequencing: data messages carry Ns/Nr (Sequencing Required in ICCN).
	Sequencing bool
	// Control is called for every non-IP PPP frame the backend receives
	// itself (kernel: from the PPP channel). It must not block or retain
	// payload.
	Control func(proto uint16, payload []byte)
	// Input takes each UDP payload that arrives on a per-tunnel socket the
	// backend opened and that the kernel passes up (control messages, data
	// of sessions it does not know): the LNS's (*l2tp.LNS).Input. It must
	// not retain b.
	Input func(b []byte, from netip.AddrPort)
}

// LinkConfig is what Up needs to make the session's interface forward.
type LinkConfig struct {
	LocalIP netip.Addr // our IPCP address (may be shared by all sessions)
	PeerIP  netip.Addr // subscriber's IPv4 address; a /32 host route goes via the interface
	// PeerIfaceID is the subscriber's IPv6CP interface identifier (0 = no IPv6).
	PeerIfaceID  uint64
	LocalIfaceID uint64
	MTU          int
}

// Session is one PPP conversation in the dataplane.
type Session interface {
	// SendControl sends one PPP frame (protocol + payload) to the subscriber.
	SendControl(proto uint16, payload []byte) error
	// Up creates (or reconfigures, idempotently) the session's network
	// interface and routes. IP frames the subscriber sent before Up are held
	// (a few, bounded) and delivered after it.
	Up(cfg LinkConfig) error
	// Interface is the session's interface name, "" before Up.
	Interface() string
	// Stats returns 64-bit counters. Rx is from the subscriber, Tx to it.
	Stats() Stats
	// Close removes the interface and stops demultiplexing to the session.
	// It does not send PADT: that is the discovery layer's job.
	Close() error
}

// Stats are per-session 64-bit counters.
type Stats struct {
	RxBytes   uint64 `json:"rx_bytes"` // from the subscriber (upstream)
	RxPackets uint64 `json:"rx_packets"`
	TxBytes   uint64 `json:"tx_bytes"` // to the subscriber (downstream)
	TxPackets uint64 `json:"tx_packets"`
}
