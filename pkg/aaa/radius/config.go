package radius

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"time"
)

// A Server is one RADIUS server.
type Server struct {
	Address  string // host:port; port defaults to 1812 (auth) or 1813 (acct)
	Secret   string
	Priority int // lower first; equal priorities keep their order
}

// Config configures a Client. Zero durations and sizes take the defaults
// documented on each field.
type Config struct {
	AuthServers []Server
	AcctServers []Server

	Timeout  time.Duration // per attempt; default 3s
	Retries  int           // retransmissions per server after the first try; default 2, -1 for none
	DeadTime time.Duration // hold-down after a server stops answering; default 30s
	// MaxInFlight bounds outstanding requests per server; default 256. More
	// than 256 opens more sockets (one RADIUS ID space each).
	MaxInFlight int

	NASIdentifier string
	NASIPAddress  netip.Addr

	// InterimInterval is Reply.InterimInterval when the server sends no
	// Acct-Interim-Interval (0: no interims).
	InterimInterval time.Duration

	// SpoolPath is the bbolt file holding accounting records until a server
	// acknowledges them. Required when AcctServers is set.
	SpoolPath string
	// SpoolMaxBytes limits the spool; default 256 MiB. When full, Account
	// fails, logs an error and counts (never drops silently).
	SpoolMaxBytes int64

	Rates RateConfig

	// Dictionaries are FreeRADIUS-format files loaded after the built-in
	// attributes (for example etc/dictionary.bngbox).
	Dictionaries []string

	// KillOnUnackedStart asks for the OnStartUnacked callback when no server
	// acknowledged a session's Accounting-Start after all retries.
	KillOnUnackedStart bool
	// OnStartUnacked is called (from the sender goroutine; it must not
	// block) with the Acct-Session-Id of such a session. It can also be set
	// later with Client.OnStartUnacked.
	OnStartUnacked func(sessionID string)

	// AllowMissingReplyMessageAuthenticator accepts Access-Accept/Reject
	// without Message-Authenticator (servers older than the Blast-RADIUS
	// fixes). Default false: such replies are dropped and counted.
	AllowMissingReplyMessageAuthenticator bool

	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Timeout == 0 {
		c.Timeout = 3 * time.Second
	}
	if c.Retries == 0 {
		c.Retries = 2
	} else if c.Retries < 0 {
		c.Retries = 0
	}
	if c.DeadTime == 0 {
		c.DeadTime = 30 * time.Second
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 256
	}
	if c.SpoolMaxBytes == 0 {
		c.SpoolMaxBytes = 256 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// validate returns every problem found, joined.
func (c *Config) validate() error {
	var errs []error
	for _, l := range []struct {
		role string
		s    []Server
	}{{"auth", c.AuthServers}, {"acct", c.AcctServers}} {
		for i, s := range l.s {
			if s.Secret == "" {
				errs = append(errs, fmt.Errorf("radius: %s server %d (%s): empty secret", l.role, i, s.Address))
			}
			if s.Address == "" {
				errs = append(errs, fmt.Errorf("radius: %s server %d: empty address", l.role, i))
			}
		}
	}
	if len(c.AcctServers) > 0 && c.SpoolPath == "" {
		errs = append(errs, errors.New("radius: accounting servers need a spool path"))
	}
	if c.Timeout < 0 || c.DeadTime < 0 || c.MaxInFlight < 0 || c.SpoolMaxBytes < 0 {
		errs = append(errs, errors.New("radius: negative timeout, dead time, max in flight or spool size"))
	}
	if c.NASIdentifier == "" && !c.NASIPAddress.IsValid() {
		errs = append(errs, errors.New("radius: set NAS-Identifier or NAS-IP-Address (RFC 2865 §4.1)"))
	}
	if c.NASIPAddress.IsValid() && !c.NASIPAddress.Is4() {
		errs = append(errs, errors.New("radius: NAS-IP-Address must be IPv4"))
	}
	return errors.Join(errs...)
}

// resolveServers sorts by priority and resolves addresses.
func resolveServers(list []Server, defPort string) ([]Server, []*net.UDPAddr, error) {
	list = slices.Clone(list)
	slices.SortStableFunc(list, func(a, b Server) int { return cmp.Compare(a.Priority, b.Priority) })
	addrs := make([]*net.UDPAddr, len(list))
	for i, s := range list {
		a := s.Address
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(a, defPort)
		}
		ua, err := net.ResolveUDPAddr("udp", a)
		if err != nil {
			return nil, nil, fmt.Errorf("radius: server %s: %w", s.Address, err)
		}
		list[i].Address = a
		addrs[i] = ua
	}
	return list, addrs, nil
}
