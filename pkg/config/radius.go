package config

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// RADIUS configures the RADIUS client (auth.backend: radius,
// accounting.backend: radius) and the Dynamic Authorization server
// (RFC 5176 CoA / Disconnect). See docs/radius.md.
type RADIUS struct {
	AuthServers []RADIUSServer `yaml:"auth-servers"`
	AcctServers []RADIUSServer `yaml:"acct-servers"`
	Timeout     time.Duration  `yaml:"timeout"`       // per attempt
	Retries     int            `yaml:"retries"`       // retransmissions per server after the first try
	DeadTime    time.Duration  `yaml:"dead-time"`     // hold-down of a server that stopped answering
	MaxInFlight int            `yaml:"max-in-flight"` // outstanding requests per server
	// NASIP is NAS-IP-Address; empty takes nas.ip.
	NASIP string `yaml:"nas-ip"`
	// SpoolPath is the bbolt file holding accounting records until a
	// server acknowledges them.
	SpoolPath  string     `yaml:"spool-path"`
	SpoolMaxMB int        `yaml:"spool-max-mb"`
	Rates      RADIUSRate `yaml:"rates"`
	// Dictionaries are FreeRADIUS-format files loaded at start.
	Dictionaries       []string `yaml:"dictionaries"`
	KillOnUnackedStart bool     `yaml:"kill-on-unacked-start"`
	// AllowMissingReplyMessageAuthenticator accepts replies without
	// Message-Authenticator (Blast-RADIUS: not recommended).
	AllowMissingReplyMessageAuthenticator bool `yaml:"allow-missing-reply-message-authenticator"`
	DAE                                   DAE  `yaml:"dae"`
}

// RADIUSServer is one RADIUS server.
type RADIUSServer struct {
	Address  string `yaml:"address"` // host or host:port (ports default to 1812/1813)
	Secret   string `yaml:"secret"`
	Priority int    `yaml:"priority"` // lower first
}

// RADIUSRate says which reply attributes besides the built-in ones
// (RP-*-Speed-Limit, Mikrotik-Rate-Limit) carry rates.
type RADIUSRate struct {
	AttrUp   string `yaml:"attr-up"`   // dictionary attribute: kbit/s integer or "10M" string
	AttrDown string `yaml:"attr-down"` //
	FilterID string `yaml:"filter-id"` // "" | down/up | up/down
}

// DAE is the Dynamic Authorization server (RFC 5176).
type DAE struct {
	Listen       string        `yaml:"listen"` // host:port; empty = off
	Clients      []DAEClient   `yaml:"clients"`
	ReplayWindow time.Duration `yaml:"replay-window"`
	// RequireEventTimestamp drops requests without Event-Timestamp: only
	// those can be told from a replay once replay-window has passed.
	RequireEventTimestamp bool `yaml:"require-event-timestamp"`
	// RequireMessageAuthenticator drops requests without one.
	RequireMessageAuthenticator bool `yaml:"require-message-authenticator"`
}

// DAEClient is one host allowed to send CoA / Disconnect requests.
type DAEClient struct {
	Address string `yaml:"address"` // IP address
	Secret  string `yaml:"secret"`
}

func defaultRADIUS() RADIUS {
	return RADIUS{
		Timeout:     3 * time.Second,
		Retries:     2,
		DeadTime:    30 * time.Second,
		MaxInFlight: 256,
		SpoolPath:   "/var/lib/bngbox/acct.db",
		SpoolMaxMB:  256,
		DAE:         DAE{ReplayWindow: 300 * time.Second},
	}
}

// NASIPAddress is the NAS-IP-Address RADIUS uses: radius.nas-ip, else
// nas.ip, else invalid.
func (c *Config) NASIPAddress() netip.Addr {
	s := c.RADIUS.NASIP
	if s == "" {
		s = c.NAS.IP
	}
	a, _ := netip.ParseAddr(s)
	return a
}

func (r *RADIUS) resolvePaths(dir string) {
	if r.SpoolPath != "" && !filepath.IsAbs(r.SpoolPath) {
		r.SpoolPath = filepath.Join(dir, r.SpoolPath)
	}
	for i, d := range r.Dictionaries {
		if !filepath.IsAbs(d) {
			r.Dictionaries[i] = filepath.Join(dir, d)
		}
	}
}

// validateAAA checks auth, accounting and radius together: which RADIUS
// keys are required depends on the backends.
func (c *Config) validateAAA(p *problems) {
	oneOf(p, "auth.backend", c.Auth.Backend, "local", "radius")
	if c.Auth.Backend == "local" && c.Auth.UsersFile == "" {
		p.add("auth.users-file", "required with backend local")
	}
	oneOf(p, "accounting.backend", c.Accounting.Backend, "file", "log", "radius")
	if c.Accounting.Backend == "file" && c.Accounting.File == "" {
		p.add("accounting.file", "required with backend file")
	}
	if c.Accounting.InterimInterval < 0 || (c.Accounting.InterimInterval > 0 && c.Accounting.InterimInterval.Seconds() < 10) {
		p.add("accounting.interim-interval", "must be 0 (off) or at least 10s")
	}

	r := &c.RADIUS
	useAuth, useAcct := c.Auth.Backend == "radius", c.Accounting.Backend == "radius"
	if useAuth && len(r.AuthServers) == 0 {
		p.add(c.presentOr("radius.auth-servers", "auth.backend"), "radius.auth-servers: at least one server is required with auth.backend radius")
	}
	if useAcct && len(r.AcctServers) == 0 {
		p.add(c.presentOr("radius.acct-servers", "accounting.backend"), "radius.acct-servers: at least one server is required with accounting.backend radius")
	}
	if useAcct && r.SpoolPath == "" {
		p.add("radius.spool-path", "required with accounting.backend radius")
	}
	radiusServers(p, "radius.auth-servers", r.AuthServers)
	radiusServers(p, "radius.acct-servers", r.AcctServers)
	if r.Timeout <= 0 {
		p.add("radius.timeout", "must be > 0")
	}
	positive(p, "radius.retries", r.Retries, 0, 10)
	if r.DeadTime < 0 {
		p.add("radius.dead-time", "must be >= 0")
	}
	positive(p, "radius.max-in-flight", r.MaxInFlight, 1, 65536)
	positive(p, "radius.spool-max-mb", r.SpoolMaxMB, 1, 1<<20)
	if r.NASIP != "" {
		if a, err := netip.ParseAddr(r.NASIP); err != nil || !a.Is4() {
			p.add("radius.nas-ip", "%q is not an IPv4 address (RFC 2865 §5.4)", r.NASIP)
		}
	}
	if (useAuth || useAcct || r.DAE.Listen != "") && r.NASIP == "" && c.NAS.IP != "" {
		if a, err := netip.ParseAddr(c.NAS.IP); err == nil && !a.Is4() {
			p.add("nas.ip", "%q: NAS-IP-Address must be IPv4; set radius.nas-ip", c.NAS.IP)
		}
	}
	switch r.Rates.FilterID {
	case "", "down/up", "up/down":
	default:
		p.add("radius.rates.filter-id", "%q: want \"\", down/up or up/down", r.Rates.FilterID)
	}
	if (r.Rates.AttrUp == "") != (r.Rates.AttrDown == "") {
		p.add("radius.rates", "set both attr-up and attr-down, or neither")
	}
	for i, d := range r.Dictionaries {
		if _, err := os.Stat(d); err != nil {
			p.add("radius.dictionaries."+strconv.Itoa(i), "%v", err)
		}
	}

	dae := &r.DAE
	if dae.Listen != "" {
		if _, _, err := net.SplitHostPort(dae.Listen); err != nil {
			p.add("radius.dae.listen", "%q: want host:port (e.g. :3799)", dae.Listen)
		}
		if len(dae.Clients) == 0 {
			p.add("radius.dae.clients", "at least one client is required when listen is set")
		}
	}
	for i, cl := range dae.Clients {
		path := fmt.Sprintf("radius.dae.clients.%d", i)
		if _, err := netip.ParseAddr(cl.Address); err != nil {
			p.add(path+".address", "%q is not an IP address", cl.Address)
		}
		if cl.Secret == "" {
			p.add(path+".secret", "must not be empty")
		}
	}
	if dae.ReplayWindow <= 0 {
		p.add("radius.dae.replay-window", "must be > 0")
	}
}

// presentOr returns path when the file has that key, else fallback (so a
// missing section is reported at the line that asked for it).
func (c *Config) presentOr(path, fallback string) string {
	if c.lineOf(path) > 0 && c.lineOf(path) != c.lineOf(path[:strings.LastIndex(path, ".")]) {
		return path
	}
	return fallback
}

func radiusServers(p *problems, path string, list []RADIUSServer) {
	for i, s := range list {
		sp := fmt.Sprintf("%s.%d", path, i)
		if s.Address == "" {
			p.add(sp+".address", "must not be empty")
		} else if host, port, err := net.SplitHostPort(s.Address); err == nil {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || host == "" {
				p.add(sp+".address", "%q: bad host:port", s.Address)
			}
		}
		if s.Secret == "" {
			p.add(sp+".secret", "must not be empty")
		}
		if s.Priority < 0 {
			p.add(sp+".priority", "must be >= 0")
		}
	}
}

// defaultAcctBackend applies accounting.backend's default: file when a file
// is named, else log.
func (c *Config) defaultAcctBackend() {
	if c.Accounting.Backend != "" {
		return
	}
	c.Accounting.Backend = "log"
	if c.Accounting.File != "" {
		c.Accounting.Backend = "file"
	}
}
