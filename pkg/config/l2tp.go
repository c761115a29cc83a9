package config

import (
	"fmt"
	"net"
	"time"
)

// L2TP configures the L2TPv2 LNS (RFC 2661). It is off unless Enabled.
type L2TP struct {
	Enabled bool   `yaml:"enabled"`
	Listen  string `yaml:"listen"` // UDP address; "" means :1701
	// HostName is our Host Name AVP; "" means nas.identifier.
	HostName string `yaml:"hostname"`
	// Secrets are the tunnel secrets per LAC, matched by source address
	// first, then by the LAC's Host Name.
	Secrets []L2TPSecret `yaml:"secrets"`
	// RequireAuth refuses LACs without a configured secret.
	RequireAuth bool `yaml:"require-auth"`
	// HelloInterval is the keepalive period (RFC 2661 §6.5); 0 means 60s.
	HelloInterval time.Duration `yaml:"hello-interval"`
	// ProxyAuth is the policy for the LAC's proxy LCP/authentication AVPs
	// (RFC 2661 §4.4.5): "renegotiate" (run LCP and authentication
	// ourselves, the default) or "accept" (take the proxied LCP state and
	// send the proxied PAP/CHAP credentials to AAA; calls without usable
	// proxy AVPs are renegotiated).
	ProxyAuth string `yaml:"proxy-auth"`
}

// L2TPSecret is one LAC's tunnel secret.
type L2TPSecret struct {
	Peer   string `yaml:"peer"` // IP address or Host Name of the LAC
	Secret string `yaml:"secret"`
}

// ListenAddr is Listen with its default applied.
func (l *L2TP) ListenAddr() string {
	if l.Listen == "" {
		return ":1701"
	}
	return l.Listen
}

// Hello is HelloInterval with its default applied.
func (l *L2TP) Hello() time.Duration {
	if l.HelloInterval == 0 {
		return 60 * time.Second
	}
	return l.HelloInterval
}

// AcceptProxy reports whether the LAC's proxy LCP and authentication are
// used (proxy-auth: accept).
func (l *L2TP) AcceptProxy() bool { return l.ProxyAuth == "accept" }

// SecretFor returns the secret for a LAC by address, then by host name.
func (l *L2TP) SecretFor(addr, host string) (string, bool) {
	for _, s := range l.Secrets {
		if s.Peer == addr {
			return s.Secret, true
		}
	}
	for _, s := range l.Secrets {
		if host != "" && s.Peer == host {
			return s.Secret, true
		}
	}
	return "", false
}

func (l *L2TP) validate(p *problems) {
	if l.Listen != "" {
		if _, err := net.ResolveUDPAddr("udp", l.Listen); err != nil {
			p.add("l2tp.listen", "%v", err)
		}
	}
	if l.HelloInterval < 0 || (l.HelloInterval > 0 && l.HelloInterval < time.Second) {
		p.add("l2tp.hello-interval", "must be 0 (default 60s) or at least 1s")
	}
	switch l.ProxyAuth {
	case "", "renegotiate", "accept":
	default:
		p.add("l2tp.proxy-auth", "%q is not one of renegotiate, accept", l.ProxyAuth)
	}
	seen := map[string]bool{}
	for i, s := range l.Secrets {
		path := fmt.Sprintf("l2tp.secrets.%d", i)
		if s.Peer == "" {
			p.add(path+".peer", "must not be empty")
		} else if seen[s.Peer] {
			p.add(path+".peer", "peer %q listed twice", s.Peer)
		}
		seen[s.Peer] = true
		if s.Secret == "" {
			p.add(path+".secret", "must not be empty")
		}
	}
	if l.Enabled && l.RequireAuth && len(l.Secrets) == 0 {
		p.add("l2tp.require-auth", "needs at least one entry in l2tp.secrets")
	}
}
