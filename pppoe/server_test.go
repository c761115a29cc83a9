package pppoe

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/bngbox/bngbox/internal/ether"
)

func TestDiscoveryFlow(t *testing.T) {
	tests := []struct {
		name    string
		vlans   []uint16
		tpid    uint16 // outer TPID, 0 for default
		pcp     uint8
		noUniq  bool
		extra   []Tag
		cfg     func(*Config)
		wantMP  uint16 // echoed PPP-Max-Payload
		wantExt []Tag  // echoed extra tags, in PADO and PADS order
	}{
		{name: "untagged"},
		{name: "dot1q", vlans: []uint16{100}, pcp: 3},
		{name: "qinq 88a8", vlans: []uint16{100, 200}, tpid: ether.TPID8021AD},
		{name: "qinq 9100", vlans: []uint16{7, 4094}, tpid: ether.TPIDQinQ},
		{name: "qinq 8100", vlans: []uint16{7, 8}, tpid: ether.TPID8021Q},
		{name: "no host-uniq", noUniq: true},
		{
			name:    "relay session id",
			extra:   []Tag{{TagRelaySessionID, []byte("circuit-1")}},
			wantExt: []Tag{{TagRelaySessionID, []byte("circuit-1")}},
		},
		{
			name:    "max payload",
			extra:   []Tag{{TagPPPMaxPayload, u16(1500)}},
			wantMP:  1500,
			wantExt: []Tag{{TagPPPMaxPayload, u16(1500)}},
		},
		{
			name:    "max payload capped",
			extra:   []Tag{{TagPPPMaxPayload, u16(9000)}},
			cfg:     func(c *Config) { c.MaxPayload = 1500 },
			wantMP:  1500,
			wantExt: []Tag{{TagPPPMaxPayload, u16(1500)}},
		},
		{
			name:  "max payload below 1492 ignored",
			extra: []Tag{{TagPPPMaxPayload, u16(1400)}},
		},
		{
			name:    "vendor-specific not echoed, relay and max payload are",
			extra:   []Tag{{TagVendorSpecific, []byte{0, 0, 0x0d, 0xe9, 1, 2}}, {TagPPPMaxPayload, u16(1500)}, {TagRelaySessionID, []byte{9}}},
			wantMP:  1500,
			wantExt: []Tag{{TagRelaySessionID, []byte{9}}, {TagPPPMaxPayload, u16(1500)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.cfg)
			c := newClient(cliMAC, tt.vlans...)
			if len(tt.vlans) > 0 {
				c.eh.TPID[0], c.eh.PCP[0] = tt.tpid, tt.pcp
			}
			if tt.noUniq {
				c.hostUniq = nil
			}
			c.extra = tt.extra

			reply, ev := s.Handle(t0, "eth1", portMAC, c.padi())
			if ev != nil {
				t.Fatalf("PADI event %T", ev)
			}
			_, pado := decode(t, c, reply)
			if pado.Code != CodePADO || pado.SessionID != 0 {
				t.Fatalf("got %v sid %d", pado.Code, pado.SessionID)
			}
			cookie := pado.Cookie()
			if len(cookie) != CookieLen {
				t.Fatalf("cookie %x", cookie)
			}
			want := []Tag{{TagACName, []byte("bng1")}, {TagServiceName, []byte{}},
				{TagServiceName, []byte("internet")}, {TagACCookie, cookie}}
			if !tt.noUniq {
				want = append(want, Tag{TagHostUniq, c.hostUniq})
			}
			want = append(want, tt.wantExt...)
			mustTags(t, pado, want)

			reply, ev = s.Handle(t0.Add(time.Second), "eth1", portMAC, c.padr(t, pado))
			_, pads := decode(t, c, reply)
			if pads.Code != CodePADS || pads.SessionID == 0 || pads.SessionID == 0xffff {
				t.Fatalf("got %v sid %#x", pads.Code, pads.SessionID)
			}
			want = []Tag{{TagServiceName, []byte{}}}
			if !tt.noUniq {
				want = append(want, Tag{TagHostUniq, c.hostUniq})
			}
			want = append(want, tt.wantExt...)
			mustTags(t, pads, want)

			wantEv := &NewSession{
				Port: "eth1", Peer: cliMAC, VLANs: tt.vlans, SessionID: pads.SessionID,
				HostUniq: c.hostUniq, MaxPayload: tt.wantMP,
			}
			switch len(tt.vlans) {
			case 1:
				wantEv.TPIDs = []uint16{ether.TPID8021Q}
			case 2:
				wantEv.TPIDs = []uint16{tt.tpid, ether.TPID8021Q}
			}
			if v, ok := pads.Tag(TagRelaySessionID); ok {
				wantEv.RelaySessionID = v
			}
			if !reflect.DeepEqual(ev, wantEv) {
				t.Fatalf("event (-want +got):\n- %+v\n+ %+v", wantEv, ev)
			}
			if s.Sessions() != 1 {
				t.Fatalf("Sessions = %d", s.Sessions())
			}
			wantDrops(t, s, nil)
		})
	}
}

func TestEventDoesNotAliasFrame(t *testing.T) {
	s := newServer(t, nil)
	c := newClient(cliMAC, 10)
	reply, _ := s.Handle(t0, "eth1", portMAC, c.padi())
	_, pado := decode(t, c, reply)
	padr := c.padr(t, pado)
	_, ev := s.Handle(t0, "eth1", portMAC, padr)
	ns := ev.(*NewSession)
	clear(padr)
	if !bytes.Equal(ns.Peer, cliMAC) || !bytes.Equal(ns.HostUniq, c.hostUniq) || !reflect.DeepEqual(ns.VLANs, []uint16{10}) {
		t.Fatalf("event changed with the frame: %+v", ns)
	}
}

func TestCookie(t *testing.T) {
	other := newClient(cliMAC2)
	tests := []struct {
		name   string
		at     time.Duration // PADR time after the PADO
		port   string        // PADR port (default eth1)
		mangle func(pado *Packet, c *client)
		reload func(*Config) // SetConfig between PADO and PADR
		drop   string
	}{
		{name: "fresh"},
		{name: "at ttl", at: 60 * time.Second},
		{name: "expired", at: 61 * time.Second, drop: "expired-cookie"},
		{name: "from the future", at: -10 * time.Second, drop: "expired-cookie"},
		{name: "flipped bit", mangle: func(p *Packet, _ *client) { p.Cookie()[7] ^= 1 }, drop: "bad-cookie"},
		{name: "timestamp changed", mangle: func(p *Packet, _ *client) { p.Cookie()[3]++ }, drop: "bad-cookie"},
		{name: "truncated", mangle: func(p *Packet, _ *client) {
			for i := range p.Tags {
				if p.Tags[i].Type == TagACCookie {
					p.Tags[i].Value = p.Tags[i].Value[:CookieLen-1]
				}
			}
		}, drop: "bad-cookie"},
		{name: "missing", mangle: func(p *Packet, _ *client) {
			p.Tags = p.Tags[:1]
		}, drop: "bad-cookie"},
		{name: "other MAC", mangle: func(_ *Packet, c *client) { c.mac = other.mac }, drop: "bad-cookie"},
		{name: "other VLAN", mangle: func(_ *Packet, c *client) { _ = c.eh.SetVLANs([]uint16{6}) }, drop: "bad-cookie"},
		{name: "other port", port: "eth2", drop: "bad-cookie"},
		{name: "secret rotated", reload: func(c *Config) { c.CookieSecret = []byte("another secret, 32 bytes long..") }, drop: "bad-cookie"},
		{name: "ttl raised", at: 100 * time.Second, reload: func(c *Config) { c.CookieTTL = 120 * time.Second }},
		{name: "ttl lowered", at: 20 * time.Second, reload: func(c *Config) { c.CookieTTL = 10 * time.Second }, drop: "expired-cookie"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, nil)
			c := newClient(cliMAC, 5)
			reply, _ := s.Handle(t0, "eth1", portMAC, c.padi())
			_, pado := decode(t, c, reply)
			if tt.mangle != nil {
				tt.mangle(&pado, c)
			}
			if tt.reload != nil {
				cfg := baseConfig()
				tt.reload(&cfg)
				if err := s.SetConfig(cfg); err != nil {
					t.Fatal(err)
				}
			}
			port := "eth1"
			if tt.port != "" {
				port = tt.port
			}
			reply, ev := s.Handle(t0.Add(tt.at), port, portMAC, c.padr(t, pado))
			if tt.drop == "" {
				if _, ok := ev.(*NewSession); !ok || reply == nil {
					t.Fatalf("PADR refused: %v", s.Drops())
				}
				wantDrops(t, s, nil)
				return
			}
			if reply != nil || ev != nil {
				t.Fatalf("PADR with a bad cookie answered: %x %v", reply, ev)
			}
			wantDrops(t, s, map[string]uint64{tt.drop: 1})
			if s.Sessions() != 0 {
				t.Fatalf("Sessions = %d", s.Sessions())
			}
		})
	}
}

func TestCookieSharedSecret(t *testing.T) {
	// Two servers with one configured secret (e.g. a restart) accept each
	// other's cookies; with random secrets they do not.
	a, b := newServer(t, nil), newServer(t, nil)
	c := newClient(cliMAC)
	reply, _ := a.Handle(t0, "eth1", portMAC, c.padi())
	_, pado := decode(t, c, reply)
	if _, ev := b.Handle(t0, "eth1", portMAC, c.padr(t, pado)); ev == nil {
		t.Fatal("shared secret: cookie refused")
	}
	random := func(cf *Config) { cf.CookieSecret = nil }
	a, b = newServer(t, random), newServer(t, random)
	reply, _ = a.Handle(t0, "eth1", portMAC, c.padi())
	_, pado = decode(t, c, reply)
	if _, ev := b.Handle(t0, "eth1", portMAC, c.padr(t, pado)); ev != nil {
		t.Fatal("random secrets: cookie accepted by another server")
	}
	// The random secret survives a reload without a secret.
	if err := a.SetConfig(baseConfigRandom()); err != nil {
		t.Fatal(err)
	}
	if _, ev := a.Handle(t0, "eth1", portMAC, c.padr(t, pado)); ev == nil {
		t.Fatalf("reload lost the random secret: %v", a.Drops())
	}
}

func baseConfigRandom() Config { c := baseConfig(); c.CookieSecret = nil; return c }

func TestServiceNames(t *testing.T) {
	tests := []struct {
		name    string
		cfg     func(*Config)
		request string
		served  bool
	}{
		{name: "listed", request: "internet", served: true},
		{name: "not listed", request: "iptv"},
		{name: "empty accepted", request: "", served: true},
		{name: "empty refused", request: "", cfg: func(c *Config) { c.AcceptEmptyService = false }},
		{name: "any", request: "iptv", cfg: func(c *Config) { c.AcceptAnyService = true }, served: true},
		{name: "any but empty refused", request: "", cfg: func(c *Config) { c.AcceptAnyService, c.AcceptEmptyService = true, false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.cfg)
			c := newClient(cliMAC)
			c.service = tt.request
			reply, _ := s.Handle(t0, "eth1", portMAC, c.padi())
			if !tt.served {
				// RFC 2516 §5.2: no PADO for a PADI the AC cannot serve.
				if reply != nil {
					t.Fatal("PADO for an unserved service")
				}
				wantDrops(t, s, map[string]uint64{"unknown-service": 1})
				// A PADR for it anyway (cookie from a permissive config)
				// gets a PADS with Service-Name-Error and SESSION_ID 0.
				open := newServer(t, func(c *Config) { c.AcceptAnyService, c.AcceptEmptyService = true, true })
				reply, _ = open.Handle(t0, "eth1", portMAC, c.padi())
				_, pado := decode(t, c, reply)
				reply, ev := s.Handle(t0, "eth1", portMAC, c.padr(t, pado))
				_, pads := decode(t, c, reply)
				if ev != nil || pads.Code != CodePADS || pads.SessionID != 0 {
					t.Fatalf("got %v sid %d ev %v", pads.Code, pads.SessionID, ev)
				}
				if typ, _, ok := pads.Error(); !ok || typ != TagServiceNameError {
					t.Fatalf("PADS error tag = %v %v", typ, ok)
				}
				if !bytes.Equal(pads.HostUniq(), c.hostUniq) {
					t.Fatalf("error PADS without Host-Uniq")
				}
				wantDrops(t, s, map[string]uint64{"unknown-service": 2})
				return
			}
			_, pado := decode(t, c, reply)
			if sn, _ := pado.ServiceName(); sn != tt.request {
				t.Fatalf("PADO Service-Name %q, want %q", sn, tt.request)
			}
			ns := connect(t, s, "eth1", c, t0)
			if ns.ServiceName != tt.request {
				t.Fatalf("event service %q", ns.ServiceName)
			}
		})
	}
}

func TestSessionLimits(t *testing.T) {
	s := newServer(t, func(c *Config) { c.MaxSessions, c.MaxPerMAC = 3, 2 })
	a1 := newClient(cliMAC)
	a2 := newClient(cliMAC)
	a2.hostUniq = []byte("second")
	a3 := newClient(cliMAC)
	a3.hostUniq = []byte("third")
	b1 := newClient(cliMAC2)
	b2 := newClient(cliMAC2, 9)

	connect(t, s, "eth1", a1, t0)
	// Get a3's PADO before the MAC limit is reached.
	reply, _ := s.Handle(t0, "eth1", portMAC, a3.padi())
	_, pado3 := decode(t, a3, reply)
	s2 := connect(t, s, "eth1", a2, t0)

	// Per-MAC limit: no PADO, and a PADR gets AC-System-Error.
	if reply, _ := s.Handle(t0, "eth1", portMAC, a3.padi()); reply != nil {
		t.Fatal("PADO over the per-MAC limit")
	}
	reply, ev := s.Handle(t0, "eth1", portMAC, a3.padr(t, pado3))
	_, pads := decode(t, a3, reply)
	if typ, _, ok := pads.Error(); ev != nil || !ok || typ != TagACSystemError || pads.SessionID != 0 {
		t.Fatalf("PADS over the per-MAC limit: %v %v sid %d", typ, ok, pads.SessionID)
	}
	wantDrops(t, s, map[string]uint64{"mac-limit": 2})

	connect(t, s, "eth1", b1, t0)
	// Total limit.
	if reply, _ := s.Handle(t0, "eth1", portMAC, b2.padi()); reply != nil {
		t.Fatal("PADO over the session limit")
	}
	wantDrops(t, s, map[string]uint64{"mac-limit": 2, "session-limit": 1})
	if s.Sessions() != 3 {
		t.Fatalf("Sessions = %d", s.Sessions())
	}

	// Release frees both limits.
	if !s.Release("eth1", s2.SessionID) || s.Release("eth1", s2.SessionID) {
		t.Fatal("Release did not report existence correctly")
	}
	connect(t, s, "eth1", a3, t0)
	if s.Sessions() != 3 {
		t.Fatalf("Sessions = %d", s.Sessions())
	}

	// Raising the limit by reload takes effect at once.
	cfg := baseConfig()
	cfg.MaxSessions = 4
	if err := s.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	connect(t, s, "eth1", b2, t0)
}

func TestSessionIDsPerPort(t *testing.T) {
	s := newServer(t, nil)
	seen := map[string]map[uint16]bool{"eth1": {}, "eth2": {}}
	for i := range 50 {
		for _, port := range []string{"eth1", "eth2"} {
			c := newClient(cliMAC)
			c.hostUniq = []byte(fmt.Sprint(i))
			ns := connect(t, s, port, c, t0)
			if seen[port][ns.SessionID] {
				t.Fatalf("%s: duplicate sid %#x", port, ns.SessionID)
			}
			seen[port][ns.SessionID] = true
		}
	}
	if s.Sessions() != 100 {
		t.Fatalf("Sessions = %d", s.Sessions())
	}
}

func TestIDSpace(t *testing.T) {
	p := &idSpace{next: 0xfff0}
	seen := make(map[uint16]bool)
	for range 0xfffe {
		id, ok := p.alloc()
		if !ok || id == 0 || id == 0xffff || seen[id] {
			t.Fatalf("alloc = %#x %v (seen %v)", id, ok, seen[id])
		}
		seen[id] = true
	}
	if id, ok := p.alloc(); ok {
		t.Fatalf("alloc on a full port = %#x", id)
	}
	p.free(0x1234)
	p.free(0x1234) // double free is harmless
	if id, ok := p.alloc(); !ok || id != 0x1234 {
		t.Fatalf("alloc after free = %#x %v", id, ok)
	}
	// Sequential: a freed ID is not reused while others are free.
	q := &idSpace{next: 1}
	a, _ := q.alloc()
	q.free(a)
	if b, _ := q.alloc(); b == a {
		t.Fatalf("freed ID %#x reused at once", a)
	}
}

func TestRateLimits(t *testing.T) {
	t.Run("per MAC", func(t *testing.T) {
		s := newServer(t, func(c *Config) { c.PADIRatePerMAC, c.PADIBurstPerMAC = 1, 2 })
		a, b := newClient(cliMAC), newClient(cliMAC2)
		got := func(c *client, at time.Duration) bool {
			reply, _ := s.Handle(t0.Add(at), "eth1", portMAC, c.padi())
			return reply != nil
		}
		steps := []struct {
			c    *client
			at   time.Duration
			want bool
		}{
			{a, 0, true}, {a, 0, true}, {a, 0, false}, // burst 2
			{b, 0, true},                                                      // other MAC unaffected
			{a, 500 * time.Millisecond, false},                                // half a token
			{a, time.Second, true},                                            // one token
			{a, time.Second, false},                                           //
			{a, time.Hour, true}, {a, time.Hour, true}, {a, time.Hour, false}, // refill capped at burst
			{a, 0, false}, // clock stepped back: no refill
		}
		for i, st := range steps {
			if g := got(st.c, st.at); g != st.want {
				t.Fatalf("step %d: answered %v, want %v", i, g, st.want)
			}
		}
		wantDrops(t, s, map[string]uint64{"rate-limited-mac": 5})
	})
	t.Run("global", func(t *testing.T) {
		s := newServer(t, func(c *Config) { c.PADIRateGlobal, c.PADIBurstGlobal = 10, 3 })
		n := 0
		for i := range 10 {
			c := newClient([]byte{2, 0, 0, 0, 1, byte(i)})
			if reply, _ := s.Handle(t0, "eth1", portMAC, c.padi()); reply != nil {
				n++
			}
		}
		if n != 3 {
			t.Fatalf("answered %d PADIs, want burst 3", n)
		}
		if reply, _ := s.Handle(t0.Add(100*time.Millisecond), "eth1", portMAC, newClient(cliMAC).padi()); reply == nil {
			t.Fatal("no token after 100 ms at 10/s")
		}
		wantDrops(t, s, map[string]uint64{"rate-limited-global": 7})
	})
	t.Run("per MAC before global", func(t *testing.T) {
		// A flooding MAC is stopped by its own bucket and leaves the
		// global tokens to others.
		s := newServer(t, func(c *Config) { c.PADIRatePerMAC, c.PADIRateGlobal, c.PADIBurstGlobal = 1, 1, 2 })
		for range 5 {
			s.Handle(t0, "eth1", portMAC, newClient(cliMAC).padi())
		}
		if reply, _ := s.Handle(t0, "eth1", portMAC, newClient(cliMAC2).padi()); reply == nil {
			t.Fatal("flooding MAC used the global bucket")
		}
		wantDrops(t, s, map[string]uint64{"rate-limited-mac": 4})
	})
}

func TestMACTableBounded(t *testing.T) {
	var m macTable
	for i := range 1000 {
		mac := [6]byte{2, 0, 0, 0, byte(i >> 8), byte(i)}
		if !m.allow(mac, 0, 1, 1, 16) {
			t.Fatalf("new MAC %d refused", i)
		}
		if m.len() > 16 {
			t.Fatalf("table holds %d entries, bound 16", m.len())
		}
	}
	// A recently seen MAC keeps its (empty) bucket.
	mac := [6]byte{2, 0, 0, 0, 0x03, 0xe7} // i = 999
	if m.allow(mac, 0, 1, 1, 16) {
		t.Fatal("recent MAC got a fresh bucket")
	}
}

func TestVLANPolicy(t *testing.T) {
	eth1, err := ParseVLANSet("untagged", "100-199", "1000.200-299", "2000.*")
	if err != nil {
		t.Fatal(err)
	}
	any1, _ := ParseVLANSet("*")
	tests := []struct {
		name  string
		port  string
		vlans []uint16
		ok    bool
	}{
		{"untagged", "eth1", nil, true},
		{"single in range", "eth1", []uint16{150}, true},
		{"single low edge", "eth1", []uint16{100}, true},
		{"single high edge", "eth1", []uint16{199}, true},
		{"single outside", "eth1", []uint16{200}, false},
		{"qinq in range", "eth1", []uint16{1000, 250}, true},
		{"qinq inner outside", "eth1", []uint16{1000, 300}, false},
		{"qinq outer outside", "eth1", []uint16{1001, 250}, false},
		{"qinq outer only as single", "eth1", []uint16{1000}, false},
		{"qinq wildcard inner", "eth1", []uint16{2000, 4094}, true},
		{"default port single", "eth9", []uint16{5}, true},
		{"default port untagged", "eth9", nil, false},
		{"filter refuses", "eth1", []uint16{166}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var filterArgs []uint16
			s := newServer(t, func(c *Config) {
				c.PortVLANs = map[string]VLANSet{"eth1": eth1, "*": any1}
				c.VLANFilter = func(port string, vlans []uint16) bool {
					filterArgs = vlans
					return !(len(vlans) == 1 && vlans[0] == 166)
				}
			})
			c := newClient(cliMAC, tt.vlans...)
			reply, _ := s.Handle(t0, tt.port, portMAC, c.padi())
			if (reply != nil) != tt.ok {
				t.Fatalf("answered = %v, want %v", reply != nil, tt.ok)
			}
			if !tt.ok {
				wantDrops(t, s, map[string]uint64{"vlan-not-served": 1})
				return
			}
			if !reflect.DeepEqual(filterArgs, c.eh.VLANs()) && !(len(filterArgs) == 0 && c.eh.NumVLANs == 0) {
				t.Fatalf("filter saw %v", filterArgs)
			}
			ns := connect(t, s, tt.port, c, t0)
			if !reflect.DeepEqual(ns.VLANs, tt.vlans) {
				t.Fatalf("event VLANs %v", ns.VLANs)
			}
		})
	}
	t.Run("policy applies to PADR after reload", func(t *testing.T) {
		s := newServer(t, nil)
		c := newClient(cliMAC, 42)
		reply, _ := s.Handle(t0, "eth1", portMAC, c.padi())
		_, pado := decode(t, c, reply)
		cfg := baseConfig()
		cfg.PortVLANs = map[string]VLANSet{"eth1": eth1}
		if err := s.SetConfig(cfg); err != nil {
			t.Fatal(err)
		}
		if reply, _ := s.Handle(t0, "eth1", portMAC, c.padr(t, pado)); reply != nil {
			t.Fatal("PADR answered on a VLAN no longer served")
		}
		wantDrops(t, s, map[string]uint64{"vlan-not-served": 1})
	})
}

func TestParseVLANSet(t *testing.T) {
	for _, bad := range []string{"", "x", "4096", "10-5", "1.2.3", "1-", "-1", ".5", "5.", "1.4096", "untagged.5"} {
		if _, err := ParseVLANSet(bad); !errors.Is(err, ErrVLANSpec) {
			t.Errorf("ParseVLANSet(%q) err = %v", bad, err)
		}
	}
	s, err := ParseVLANSet(" 7 ", "0")
	if err != nil || !s.Contains([]uint16{7}) || !s.Contains([]uint16{0}) || s.Contains(nil) || s.Contains([]uint16{7, 7}) {
		t.Fatalf("ParseVLANSet = %+v, %v", s, err)
	}
	var zero VLANSet
	if zero.Contains(nil) || zero.Contains([]uint16{1}) {
		t.Fatal("zero VLANSet is not empty")
	}
}

func TestDuplicatePADR(t *testing.T) {
	s := newServer(t, nil)
	c := newClient(cliMAC, 100, 200)
	reply, _ := s.Handle(t0, "eth1", portMAC, c.padi())
	_, pado := decode(t, c, reply)
	padr := c.padr(t, pado)
	first, ev := s.Handle(t0, "eth1", portMAC, padr)
	if _, ok := ev.(*NewSession); !ok {
		t.Fatalf("event %T", ev)
	}
	again, ev := s.Handle(t0.Add(3*time.Second), "eth1", portMAC, padr)
	if ev != nil {
		t.Fatalf("duplicate PADR made event %T", ev)
	}
	if !bytes.Equal(first, again) {
		t.Fatalf("duplicate PADR got a different PADS:\n%x\n%x", first, again)
	}
	if s.Sessions() != 1 {
		t.Fatalf("Sessions = %d", s.Sessions())
	}
	// Another Host-Uniq is another session.
	c.hostUniq = []byte("other")
	_, ev = s.Handle(t0, "eth1", portMAC, c.padr(t, pado))
	if _, ok := ev.(*NewSession); !ok || s.Sessions() != 2 {
		t.Fatalf("new Host-Uniq: event %T, %d sessions", ev, s.Sessions())
	}
	// The same PADR on another VLAN or port is not a duplicate: here the
	// cookie does not match either, so it is refused.
	_ = c.eh.SetVLANs([]uint16{100, 201})
	if reply, _ := s.Handle(t0, "eth1", portMAC, c.padr(t, pado)); reply != nil {
		t.Fatal("PADR with another VLAN answered")
	}
	wantDrops(t, s, map[string]uint64{"bad-cookie": 1})
}

func TestPADT(t *testing.T) {
	s := newServer(t, nil)
	c := newClient(cliMAC, 100, 200)
	c.eh.TPID[0], c.eh.PCP[0], c.eh.PCP[1] = ether.TPIDQinQ, 5, 5
	ns := connect(t, s, "eth1", c, t0)
	sid := ns.SessionID

	// From a stranger, another port or for another sid: ignored.
	stranger := newClient(cliMAC2, 100, 200)
	for _, f := range []struct {
		port  string
		frame []byte
	}{
		{"eth1", stranger.padt(sid)},
		{"eth2", c.padt(sid)},
		{"eth1", c.padt(sid + 1)},
	} {
		if reply, ev := s.Handle(t0, f.port, portMAC, f.frame); reply != nil || ev != nil {
			t.Fatalf("PADT answered: %x %v", reply, ev)
		}
	}
	wantDrops(t, s, map[string]uint64{"unknown-session": 3})

	// From the peer, with a message.
	p := Packet{Code: CodePADT, SessionID: sid}
	p.Add(TagGenericError, []byte("bye"))
	reply, ev := s.Handle(t0, "eth1", portMAC, c.frame(portMAC, p))
	want := &PeerTerminated{Port: "eth1", Peer: cliMAC, VLANs: []uint16{100, 200}, SessionID: sid, Message: "bye"}
	if reply != nil || !reflect.DeepEqual(ev, want) {
		t.Fatalf("PADT: %x %+v", reply, ev)
	}
	// Once only.
	if _, ev := s.Handle(t0, "eth1", portMAC, c.padt(sid)); ev != nil {
		t.Fatalf("second PADT: %+v", ev)
	}
	wantDrops(t, s, map[string]uint64{"unknown-session": 3, "duplicate-padt": 1})
	// The ID stays allocated until Release.
	if s.Sessions() != 1 {
		t.Fatalf("Sessions = %d", s.Sessions())
	}
	// A new PADR from the same client is a new session, not a duplicate.
	ns2 := connect(t, s, "eth1", c, t0)
	if ns2.SessionID == sid {
		t.Fatal("terminated session's ID handed out again before Release")
	}
	if !s.Release("eth1", sid) || s.Sessions() != 1 {
		t.Fatalf("Release: %d sessions", s.Sessions())
	}

	// Server-side PADT: same tags, TPIDs and priorities as the session.
	frame := s.PADT("eth1", portMAC, cliMAC, []uint16{100, 200}, ns2.SessionID, "admin reset")
	eh, pt := decode(t, c, frame)
	if eh.TPID != [2]uint16{ether.TPIDQinQ, ether.TPID8021Q} {
		t.Fatalf("PADT TPIDs %#x", eh.TPID)
	}
	if pt.Code != CodePADT || pt.SessionID != ns2.SessionID {
		t.Fatalf("PADT %v sid %d", pt.Code, pt.SessionID)
	}
	mustTags(t, pt, []Tag{{TagGenericError, []byte("admin reset")}})
	// Unknown session: default TPIDs, no message tag.
	frame = s.PADT("eth1", portMAC, cliMAC2, []uint16{7}, 0x99, "")
	eh, off, err := ether.Parse(frame)
	if err != nil || eh.TPID[0] != ether.TPID8021Q || eh.VID[0] != 7 {
		t.Fatalf("PADT header %+v %v", eh, err)
	}
	if pt, _, err = Parse(frame[off:]); err != nil || len(pt.Tags) != 0 || pt.SessionID != 0x99 {
		t.Fatalf("PADT %+v %v", pt, err)
	}
	if s.PADT("eth1", portMAC, cliMAC, []uint16{1, 2, 3}, 1, "") != nil {
		t.Fatal("PADT with three tags built")
	}
}

func TestMalformed(t *testing.T) {
	c := newClient(cliMAC)
	valid := c.padi()
	pppoeOff := ether.HeaderLen
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(valid)) }
	tests := []struct {
		name  string
		frame []byte
		drop  string
	}{
		{"empty", nil, "malformed"},
		{"ethernet only", valid[:ether.HeaderLen], "malformed"},
		{"session ethertype", mod(func(b []byte) []byte { b[13] = 0x64; return b }), "malformed"},
		{"bad version", mod(func(b []byte) []byte { b[pppoeOff] = 0x12; return b }), "malformed"},
		{"length too long", mod(func(b []byte) []byte { b[pppoeOff+5]++; return b }), "malformed"},
		{"truncated tag", mod(func(b []byte) []byte { return b[:len(b)-1] }), "malformed"},
		{"PADI with session id", mod(func(b []byte) []byte { b[pppoeOff+3] = 1; return b }), "malformed"},
		{"multicast source", mod(func(b []byte) []byte { b[6] |= 1; return b }), "malformed"},
		{"zero source", mod(func(b []byte) []byte { copy(b[6:12], make([]byte, 6)); return b }), "malformed"},
		{"PADI without Service-Name", c.frame(broadcast, Packet{Code: CodePADI}), "malformed"},
		{"PADI with two Service-Names", c.frame(broadcast, Packet{Code: CodePADI,
			Tags: []Tag{{TagServiceName, nil}, {TagServiceName, nil}}}), "malformed"},
		{"PADT with session 0", c.frame(portMAC, Packet{Code: CodePADT}), "malformed"},
		{"three VLAN tags", mod(func(b []byte) []byte {
			tags := []byte{0x88, 0xa8, 0, 1, 0x81, 0, 0, 2, 0x81, 0, 0, 3}
			return append(append(b[:12:12], tags...), b[12:]...)
		}), "malformed"},
		{"PADO", c.frame(portMAC, Packet{Code: CodePADO, Tags: []Tag{{TagACName, []byte("x")}, {TagServiceName, nil}}}), "unexpected-code"},
		{"PADS", c.frame(portMAC, Packet{Code: CodePADS, SessionID: 1}), "unexpected-code"},
		{"unknown code", c.frame(portMAC, Packet{Code: 0x42}), "unexpected-code"},
		{"PADI unicast elsewhere", c.frame(cliMAC2, Packet{Code: CodePADI, Tags: []Tag{{TagServiceName, nil}}}), "not-for-us"},
		{"PADR broadcast", c.frame(broadcast, Packet{Code: CodePADR, Tags: []Tag{{TagServiceName, nil}}}), "not-for-us"},
		{"PADT broadcast", c.frame(broadcast, Packet{Code: CodePADT, SessionID: 1}), "not-for-us"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, nil)
			reply, ev := s.Handle(t0, "eth1", portMAC, tt.frame)
			if reply != nil || ev != nil {
				t.Fatalf("answered: %x %v", reply, ev)
			}
			wantDrops(t, s, map[string]uint64{tt.drop: 1})
		})
	}
	t.Run("padding accepted", func(t *testing.T) {
		s := newServer(t, nil)
		if reply, _ := s.Handle(t0, "eth1", portMAC, append(bytes.Clone(valid), make([]byte, 20)...)); reply == nil {
			t.Fatalf("padded PADI refused: %v", s.Drops())
		}
	})
	t.Run("PADI unicast to us accepted", func(t *testing.T) {
		s := newServer(t, nil)
		if reply, _ := s.Handle(t0, "eth1", portMAC, c.frame(portMAC, Packet{Code: CodePADI, Tags: []Tag{{TagServiceName, nil}}})); reply == nil {
			t.Fatalf("unicast PADI refused: %v", s.Drops())
		}
	})
}

func TestReplyTooBig(t *testing.T) {
	s := newServer(t, nil)
	c := newClient(cliMAC)
	c.hostUniq = make([]byte, 1400) // fits a PADI, not a PADO with AC-Name and cookie
	c.extra = []Tag{{TagRelaySessionID, make([]byte, 80)}}
	if reply, _ := s.Handle(t0, "eth1", portMAC, c.padi()); reply != nil {
		t.Fatalf("%d-byte PADO sent", len(reply))
	}
	wantDrops(t, s, map[string]uint64{"reply-too-big": 1})
}

func TestSetConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"no AC-Name", func(c *Config) { c.ACName = "" }},
		{"negative sessions", func(c *Config) { c.MaxSessions = -1 }},
		{"negative rate", func(c *Config) { c.PADIRatePerMAC = -1 }},
		{"short secret", func(c *Config) { c.CookieSecret = []byte("short") }},
		{"small max payload", func(c *Config) { c.MaxPayload = 1400 }},
		{"negative ttl", func(c *Config) { c.CookieTTL = -time.Second }},
	}
	s := newServer(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := baseConfig()
			tt.mod(&c)
			if _, err := New(c); !errors.Is(err, ErrConfig) {
				t.Fatalf("New err = %v", err)
			}
			if err := s.SetConfig(c); !errors.Is(err, ErrConfig) {
				t.Fatalf("SetConfig err = %v", err)
			}
		})
	}
	// The server still runs with its old config.
	connect(t, s, "eth1", newClient(cliMAC), t0)
}

func TestConcurrentPorts(t *testing.T) {
	s := newServer(t, func(c *Config) { c.MaxPerMAC = 1000 })
	const ports, perPort = 4, 200
	var wg sync.WaitGroup
	errs := make(chan error, ports)
	for p := range ports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			port := fmt.Sprintf("eth%d", p)
			c := newClient(cliMAC, uint16(p+1))
			var sids []uint16
			for i := range perPort {
				c.hostUniq = []byte{byte(i), byte(i >> 8)}
				reply, _ := s.Handle(t0, port, portMAC, c.padi())
				eh, off, err := ether.Parse(reply)
				if err != nil || eh.NumVLANs != 1 {
					errs <- fmt.Errorf("%s: PADO: %v", port, err)
					return
				}
				pado, _, _ := Parse(reply[off:])
				_, ev := s.Handle(t0, port, portMAC, c.padr(t, pado))
				ns, ok := ev.(*NewSession)
				if !ok {
					errs <- fmt.Errorf("%s: no session: %v", port, s.Drops())
					return
				}
				sids = append(sids, ns.SessionID)
				s.Drops()
				s.Sessions()
			}
			for _, sid := range sids[:perPort/2] {
				if !s.Release(port, sid) {
					errs <- fmt.Errorf("%s: release %#x failed", port, sid)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // live reload while ports run
		defer wg.Done()
		for i := range 50 {
			c := baseConfig()
			c.MaxPerMAC = 1000 + i
			_ = s.SetConfig(c)
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := s.Sessions(); got != ports*perPort/2 {
		t.Fatalf("Sessions = %d, want %d", got, ports*perPort/2)
	}
}
