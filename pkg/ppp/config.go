package ppp

import (
	"crypto/rand"
	"io"
	"net/netip"
	"time"
)

// A Role is which end of the link a Link plays.
type Role uint8

const (
	// RoleServer is the access concentrator / LNS: it demands
	// authentication and assigns addresses.
	RoleServer Role = iota
	// RoleClient is the subscriber: it authenticates and takes addresses.
	RoleClient
)

func (r Role) String() string {
	if r == RoleClient {
		return "client"
	}
	return "server"
}

// An AuthMethod is a set of authentication protocols.
type AuthMethod uint8

const (
	AuthNone AuthMethod = 0
	AuthPAP  AuthMethod = 1 << 0 // RFC 1334 PAP
	AuthCHAP AuthMethod = 1 << 1 // RFC 1994 CHAP with MD5
)

func (m AuthMethod) String() string {
	switch m {
	case AuthNone:
		return "none"
	case AuthPAP:
		return "pap"
	case AuthCHAP:
		return "chap"
	case AuthPAP | AuthCHAP:
		return "pap|chap"
	}
	return "AuthMethod(?)"
}

// Defaults (RFC 1661 §4.6, RFC 2516 §7).
const (
	DefaultRestart      = 3 * time.Second
	DefaultMaxConfigure = 10
	DefaultMaxTerminate = 2
	DefaultMaxFailure   = 5
	DefaultMRU          = 1492 // PPPoE (RFC 2516 §7)
	DefaultEchoFailures = 5
	DefaultAuthTimeout  = 30 * time.Second
	DefaultCHAPName     = "bngbox"
)

// A Config is the policy of a Link. One Config is shared, read-only, by many
// Links (it is not copied): do not change it while Links use it. Zero fields
// take the defaults.
type Config struct {
	Role Role

	// Restart is the restart timer (RFC 1661 §4.6; default 3 s).
	Restart time.Duration
	// MaxConfigure, MaxTerminate and MaxFailure are RFC 1661 §4.6's
	// counters (defaults 10, 2, 5), at most 255.
	MaxConfigure, MaxTerminate, MaxFailure int

	// MRU is the largest MRU we advertise and accept; 0 means as large as
	// allowed: 1492, or the peer's RFC 4638 PPP-Max-Payload when the owner
	// calls SetPeerMaxPayload with more.
	MRU uint16

	// Auth is, for a server, the protocols it demands (CHAP is asked first
	// when both are set and PAP offered on the peer's Nak); AuthNone skips
	// the authentication phase, though the owner still gets an AuthRequest
	// (Method AuthNone) to supply NetParams. For a client, the protocols
	// it accepts (others are Nak'd with one it accepts).
	Auth AuthMethod
	// Name is the server's CHAP name (default "bngbox").
	Name string
	// Username and Password are the client's credentials.
	Username, Password string
	// AuthTimeout bounds how long a server waits for the peer's
	// credentials and a client for the server's verdict (default 30 s).
	AuthTimeout time.Duration

	// Rand supplies Magic-Numbers, CHAP challenges and interface
	// identifiers; nil means crypto/rand. A Config shared by Links owned by
	// different goroutines needs a Rand safe for concurrent use.
	Rand io.Reader

	// EchoInterval is the LCP keepalive period (0: no keepalives);
	// EchoFailures unanswered Echo-Requests in a row bring the link down
	// (default 5).
	EchoInterval time.Duration
	EchoFailures int

	// LocalIP is the server's own IPCP address.
	LocalIP netip.Addr
	// NoIPv4 disables IPCP; IPv6 enables IPv6CP.
	NoIPv4, IPv6 bool
	// LocalIfaceID is our IPv6CP interface identifier (0: random).
	LocalIfaceID uint64
	// NoDNS stops a client asking for DNS servers (RFC 1877).
	NoDNS bool
}

func (c *Config) restart() time.Duration {
	if c.Restart <= 0 {
		return DefaultRestart
	}
	return c.Restart
}

func clampCount(v, def int) int {
	switch {
	case v <= 0:
		return def
	case v > 255:
		return 255
	}
	return v
}

func (c *Config) maxConfigure() int { return clampCount(c.MaxConfigure, DefaultMaxConfigure) }
func (c *Config) maxTerminate() int { return clampCount(c.MaxTerminate, DefaultMaxTerminate) }
func (c *Config) maxFailure() int   { return clampCount(c.MaxFailure, DefaultMaxFailure) }
func (c *Config) echoFailures() int { return clampCount(c.EchoFailures, DefaultEchoFailures) }

func (c *Config) authTimeout() time.Duration {
	if c.AuthTimeout <= 0 {
		return DefaultAuthTimeout
	}
	return c.AuthTimeout
}

func (c *Config) chapName() string {
	if c.Name == "" {
		return DefaultCHAPName
	}
	return c.Name
}

func (c *Config) rand() io.Reader {
	if c.Rand == nil {
		return rand.Reader
	}
	return c.Rand
}
