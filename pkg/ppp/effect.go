package ppp

import (
	"net/netip"
	"time"
)

// An EffectKind says what an Effect asks of the owner.
type EffectKind uint8

const (
	// EffectSend: send Data as a PPP frame of protocol Proto.
	EffectSend EffectKind = iota + 1
	// EffectAuthRequest (server): decide Auth, then call Link.AuthResult.
	EffectAuthRequest
	// EffectLinkUp: LCP reached Opened (authentication, if any, follows).
	EffectLinkUp
	// EffectAuthenticated (client): the server accepted our credentials.
	EffectAuthenticated
	// EffectUp: the network protocol Net.Proto (IPCP or IPv6CP) opened.
	EffectUp
	// EffectNetDown: the network protocol Proto left Opened.
	EffectNetDown
	// EffectDown: the link is finished, for Reason (Message gives detail,
	// such as the authentication failure message). It is the last effect a
	// Link produces; the owner tears the session down.
	EffectDown
)

var effectNames = [...]string{"", "Send", "AuthRequest", "LinkUp", "Authenticated", "Up", "NetDown", "Down"}

func (k EffectKind) String() string {
	if int(k) < len(effectNames) && k != 0 {
		return effectNames[k]
	}
	return "EffectKind(?)"
}

// An Effect is one thing the owner must do, in order, after a call into a
// Link. Data aliases the Link's output buffer and is valid until the next
// call into the Link: copy it (or send it) before then.
type Effect struct {
	Kind    EffectKind
	Reason  Reason       // EffectDown
	Proto   uint16       // EffectSend, EffectNetDown
	Data    []byte       // EffectSend: the PPP packet (no address/control, no protocol field)
	Message string       // EffectDown: detail
	Auth    *AuthRequest // EffectAuthRequest
	Net     *NetUp       // EffectUp
}

// An AuthRequest asks the owner (server role) to check credentials. Its
// fields are owned by the receiver.
type AuthRequest struct {
	Method    AuthMethod // AuthPAP, AuthCHAP, or AuthNone when the server demands no authentication
	User      string
	Password  string // PAP
	ChapID    uint8  // CHAP Identifier
	Challenge []byte // CHAP challenge we sent
	Response  []byte // CHAP response (16 bytes, MD5)
}

// NetParams is what the owner grants a subscriber with AuthResult.
type NetParams struct {
	PeerIP netip.Addr    // the subscriber's IPv4 address; invalid: no IPCP
	DNS    [2]netip.Addr // RFC 1877 primary and secondary; invalid: Reject the option
	// PeerIfaceID is the subscriber's IPv6CP interface identifier to
	// impose; 0 accepts any unique nonzero identifier the peer asks for.
	PeerIfaceID uint64
	NoIPv6      bool // skip IPv6CP for this subscriber
}

// NetUp describes a network protocol that opened. For IPCP, LocalIP and
// PeerIP are this end's and the other end's addresses (on a client LocalIP
// is the assigned address) and DNS the servers granted; for IPv6CP the
// interface identifiers are set.
type NetUp struct {
	Proto        uint16 // ProtoIPCP or ProtoIPv6CP
	LocalIP      netip.Addr
	PeerIP       netip.Addr
	DNS          [2]netip.Addr
	LocalIfaceID uint64
	PeerIfaceID  uint64
}

// A Reason is why a link went down. It maps to RADIUS Acct-Terminate-Cause
// and PADT/CDN codes in the session layer.
type Reason uint8

const (
	ReasonNone          Reason = iota
	ReasonPeerTerminate        // the peer sent Terminate-Request
	ReasonEchoTimeout          // EchoFailures keepalives unanswered
	ReasonAuthFailed           // credentials refused, or no credentials in time
	ReasonNegotiation          // Max-Configure/Max-Failure exhausted, a needed option or protocol rejected
	ReasonAdmin                // Close called
	ReasonLowerDown            // the owner reported the lower layer gone (PADT, CDN)
	ReasonLoopback             // our own Magic-Number came back
)

var reasonNames = [...]string{"none", "peer-terminate", "echo-timeout", "auth-failed", "negotiation-failed", "admin-close", "lower-down", "loopback"}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "Reason(?)"
}

// A Phase is the PPP link phase (RFC 1661 §3.2), separate from the LCP
// automaton.
//
//	Dead ──Open──► Establish ──LCP Opened──► Authenticate ──ok──► Network
//	  ▲                │                          │                  │
//	  └── Down ◄── Terminate ◄────────────────────┴──────────────────┘
type Phase uint8

const (
	PhaseDead Phase = iota
	PhaseEstablish
	PhaseAuthenticate
	PhaseNetwork
	PhaseTerminate
)

var phaseNames = [...]string{"Dead", "Establish", "Authenticate", "Network", "Terminate"}

func (p Phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return "Phase(?)"
}

// Stats are a Link's counters and LCP echo line-quality figures.
type Stats struct {
	Malformed      uint32 // packets dropped as malformed (bad length, options, ids)
	Discarded      uint32 // well-formed packets dropped as out of phase or state
	ProtoRejectsTx uint32 // Protocol-Rejects sent for unknown protocols
	EchoSent       uint32
	EchoReplies    uint32 // matched replies
	EchoLost       uint32 // requests never answered before the next was due
	RTTMin, RTTMax time.Duration
	RTTSum         time.Duration
	// Jitter is the RFC 3550 §6.4.1 style smoothed variation between
	// consecutive echo round-trip times.
	Jitter  time.Duration
	lastRTT time.Duration
}

// RTTAvg is the mean echo round-trip time.
func (s Stats) RTTAvg() time.Duration {
	if s.EchoReplies == 0 {
		return 0
	}
	return s.RTTSum / time.Duration(s.EchoReplies)
}

// Loss is the fraction of echo requests that went unanswered.
func (s Stats) Loss() float64 {
	n := s.EchoReplies + s.EchoLost
	if n == 0 {
		return 0
	}
	return float64(s.EchoLost) / float64(n)
}
