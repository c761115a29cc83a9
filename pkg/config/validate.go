package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/bngbox/bngbox/pkg/rate"
)

// Validate checks the whole config and reports every problem at once.
func (c *Config) Validate() error {
	p := &problems{c: c}
	oneOf(p, "log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf(p, "log.format", c.Log.Format, "text", "json")
	if c.NAS.Identifier == "" {
		p.add("nas.identifier", "must not be empty")
	}
	if c.NAS.IP != "" {
		if _, err := netip.ParseAddr(c.NAS.IP); err != nil {
			p.add("nas.ip", "%q is not an IP address", c.NAS.IP)
		}
	}
	oneOf(p, "dataplane", c.Dataplane, "auto", "kernel", "userspace")
	positive(p, "userspace.unit-cache", c.Userspace.UnitCache, 0, 65534)

	if len(c.PPPoE.Interfaces) == 0 {
		p.add("pppoe.interfaces", "at least one access interface is required")
	}
	seen := map[string]bool{}
	for i, in := range c.PPPoE.Interfaces {
		path := fmt.Sprintf("pppoe.interfaces.%d", i)
		if in.Name == "" {
			p.add(path+".name", "must not be empty")
		} else if seen[in.Name] {
			p.add(path+".name", "interface %q listed twice", in.Name)
		}
		seen[in.Name] = true
		for j, v := range in.VLANs {
			if _, err := ParseVLANRange(v); err != nil {
				p.add(fmt.Sprintf("%s.vlans.%d", path, j), "%v", err)
			}
		}
	}
	if len(c.PPPoE.ACName) == 0 || len(c.PPPoE.ACName) > 64 {
		p.add("pppoe.ac-name", "must be 1 to 64 characters")
	}
	if !c.PPPoE.AcceptAnyService && len(c.PPPoE.ServiceNames) == 0 && !c.PPPoE.AcceptEmptyService {
		p.add("pppoe.service-names", "no service would be accepted: list service names or set accept-any-service or accept-empty-service")
	}
	positive(p, "pppoe.max-sessions", c.PPPoE.MaxSessions, 1, 65534)
	positive(p, "pppoe.max-sessions-per-mac", c.PPPoE.MaxSessionsPerMAC, 1, 65534)
	if c.PPPoE.PADIRatePerMAC <= 0 {
		p.add("pppoe.padi-rate-per-mac", "must be > 0")
	}
	if c.PPPoE.PADIRateGlobal <= 0 {
		p.add("pppoe.padi-rate-global", "must be > 0")
	}
	if c.PPPoE.CookieTTL <= 0 {
		p.add("pppoe.cookie-ttl", "must be > 0")
	}

	positive(p, "ppp.mru", c.PPP.MRU, 576, 9000)
	if _, err := ParseIntfID(c.PPP.IPv6IntfID); err != nil {
		p.add("ppp.ipv6-intf-id", "%v", err)
	}
	if len(c.PPP.Auth) == 0 {
		p.add("ppp.auth", "list at least one of chap, pap")
	}
	for i, a := range c.PPP.Auth {
		if a != "chap" && a != "pap" {
			p.add(fmt.Sprintf("ppp.auth.%d", i), "%q: want chap or pap", a)
		}
	}
	if c.PPP.LCPEchoInterval < 0 {
		p.add("ppp.lcp-echo-interval", "must be >= 0 (0 turns keepalive off)")
	}
	positive(p, "ppp.lcp-echo-failure", c.PPP.LCPEchoFailure, 1, 100)
	if c.PPP.RestartTimer <= 0 {
		p.add("ppp.restart-timer", "must be > 0")
	}
	positive(p, "ppp.max-configure", c.PPP.MaxConfigure, 1, 255)
	positive(p, "ppp.max-failure", c.PPP.MaxFailure, 1, 255)
	positive(p, "ppp.max-terminate", c.PPP.MaxTerminate, 1, 255)
	if c.PPP.AuthTimeout <= 0 {
		p.add("ppp.auth-timeout", "must be > 0")
	}
	if a, err := netip.ParseAddr(c.PPP.LocalIP); err != nil || !a.Is4() {
		p.add("ppp.local-ip", "%q is not an IPv4 address", c.PPP.LocalIP)
	}
	for i, d := range c.PPP.DNS {
		if a, err := netip.ParseAddr(d); err != nil || !a.Is4() {
			p.add(fmt.Sprintf("ppp.dns.%d", i), "%q is not an IPv4 address", d)
		}
	}
	if len(c.PPP.DNS) > 2 {
		p.add("ppp.dns", "at most two DNS servers (IPCP carries primary and secondary)")
	}

	if len(c.Pools) == 0 {
		p.add("pools", "at least one address pool is required")
	}
	names := map[string]bool{}
	for i, pl := range c.Pools {
		path := fmt.Sprintf("pools.%d", i)
		if pl.Name == "" {
			p.add(path+".name", "must not be empty")
		} else if names[pl.Name] {
			p.add(path+".name", "pool %q defined twice", pl.Name)
		}
		names[pl.Name] = true
		if _, _, err := ParsePoolRange(pl.Range); err != nil {
			p.add(path+".range", "%v", err)
		}
	}

	c.validateAAA(p)

	c.L2TP.validate(p)
	oneOf(p, "shaper.upstream", c.Shaper.Upstream, "auto", "police", "ifb")
	if c.Shaper.Default != "" {
		if _, err := rate.Parse(c.Shaper.Default); err != nil {
			p.add("shaper.default", "%v", err)
		}
	}
	if c.Shaper.PoliceBurstTime < time.Millisecond || c.Shaper.PoliceBurstTime > 2*time.Second {
		p.add("shaper.police-burst-time", "%v: want 1ms to 2s", c.Shaper.PoliceBurstTime)
	}
	if c.Shaper.BurstTime < time.Millisecond || c.Shaper.BurstTime > time.Second {
		p.add("shaper.burst-time", "%v: want 1ms to 1s", c.Shaper.BurstTime)
	}
	if c.Shaper.Latency < time.Millisecond || c.Shaper.Latency > 10*time.Second {
		p.add("shaper.latency", "%v: want 1ms to 10s", c.Shaper.Latency)
	}
	if c.Shaper.SetupDefer < 0 || c.Shaper.SetupDefer > time.Minute {
		p.add("shaper.setup-defer", "%v: want 0 to 1m", c.Shaper.SetupDefer)
	}
	if c.CLI.Socket == "" {
		p.add("cli.socket", "must not be empty")
	}
	for _, l := range []struct{ key, addr string }{{"cli.telnet-listen", c.CLI.TelnetListen}, {"cli.ssh-listen", c.CLI.SSHListen}} {
		if l.addr == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(l.addr); err != nil {
			p.add(l.key, "%q: want host:port", l.addr)
		} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			p.add(l.key, "%q: bad port", l.addr)
		}
	}
	if c.CLI.TelnetListen != "" && c.CLI.TelnetListen == c.CLI.SSHListen {
		p.add("cli.ssh-listen", "same address as cli.telnet-listen")
	}
	if c.CLI.SSHListen != "" {
		if c.CLI.SSHHostKey == "" {
			p.add("cli.ssh-host-key", "required with cli.ssh-listen")
		}
		if c.CLI.SSHAuthorizedKeys == "" {
			p.add("cli.ssh-authorized-keys", "required with cli.ssh-listen (SSH takes keys only)")
		}
	}
	c.validateTelemetry(p)

	if len(p.lines) > 0 {
		return &Error{Lines: p.lines}
	}
	return nil
}

func oneOf(p *problems, path, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	p.add(path, "%q: want one of %s", v, strings.Join(allowed, ", "))
}

func positive(p *problems, path string, v, lo, hi int) {
	if v < lo || v > hi {
		p.add(path, "%d: want %d to %d", v, lo, hi)
	}
}

// VLANRange is one entry of an interface's vlans list.
type VLANRange struct {
	Untagged         bool
	OuterLo, OuterHi uint16
	QinQ             bool // an inner range is given
	InnerLo, InnerHi uint16
}

// Match reports whether the VLAN stack (outer first) is served by the range.
func (r VLANRange) Match(vlans []uint16) bool {
	switch {
	case r.Untagged:
		return len(vlans) == 0
	case r.QinQ:
		return len(vlans) == 2 && vlans[0] >= r.OuterLo && vlans[0] <= r.OuterHi && vlans[1] >= r.InnerLo && vlans[1] <= r.InnerHi
	}
	return len(vlans) == 1 && vlans[0] >= r.OuterLo && vlans[0] <= r.OuterHi
}

// ParseVLANRange parses "untagged", "100", "100-199", "10.100" or "10.100-199".
func ParseVLANRange(s string) (VLANRange, error) {
	if s == "untagged" {
		return VLANRange{Untagged: true}, nil
	}
	outer, inner, qinq := strings.Cut(s, ".")
	var r VLANRange
	var err error
	if r.OuterLo, r.OuterHi, err = parseVIDRange(outer); err != nil {
		return r, fmt.Errorf("bad VLAN %q: %v", s, err)
	}
	if qinq {
		r.QinQ = true
		if r.InnerLo, r.InnerHi, err = parseVIDRange(inner); err != nil {
			return r, fmt.Errorf("bad VLAN %q: %v", s, err)
		}
	}
	return r, nil
}

func parseVIDRange(s string) (lo, hi uint16, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = parseVID(a); err != nil {
		return
	}
	hi = lo
	if isRange {
		if hi, err = parseVID(b); err != nil {
			return
		}
		if hi < lo {
			return 0, 0, fmt.Errorf("range %s is backwards", s)
		}
	}
	return lo, hi, nil
}

func parseVID(s string) (uint16, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 || v > 4094 {
		return 0, fmt.Errorf("VLAN ID %q: want 1 to 4094", s)
	}
	return uint16(v), nil
}

// ParsePoolRange parses "100.64.0.0/16" (network and broadcast excluded for
// prefixes shorter than /31) or "100.64.0.10-100.64.0.200".
func ParsePoolRange(s string) (first, last netip.Addr, err error) {
	if a, b, ok := strings.Cut(s, "-"); ok {
		first, err1 := netip.ParseAddr(strings.TrimSpace(a))
		last, err2 := netip.ParseAddr(strings.TrimSpace(b))
		if err1 != nil || err2 != nil || !first.Is4() || !last.Is4() || last.Less(first) {
			return netip.Addr{}, netip.Addr{}, fmt.Errorf("%q: want first-last IPv4 addresses in order", s)
		}
		return first, last, nil
	}
	pfx, err := netip.ParsePrefix(s)
	if err != nil || !pfx.Addr().Is4() || pfx.Bits() < 8 {
		return netip.Addr{}, netip.Addr{}, fmt.Errorf("%q: want an IPv4 prefix (/8 to /32) or a first-last range", s)
	}
	pfx = pfx.Masked()
	first = pfx.Addr()
	n := uint32(1) << (32 - pfx.Bits())
	last = addU32(first, n-1)
	if pfx.Bits() < 31 {
		first, last = first.Next(), last.Prev()
	}
	return first, last, nil
}

func addU32(a netip.Addr, n uint32) netip.Addr {
	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += n
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
