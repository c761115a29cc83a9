package ppp

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
)

func pkt(code, id uint8, data ...byte) []byte {
	return Packet{Code: code, ID: id, Data: data}.Append(nil)
}

// only returns the single packet of proto in fx.
func only(t *testing.T, fx []Effect, proto uint16) Packet {
	t.Helper()
	var got []Packet
	for _, e := range fx {
		if e.Kind == EffectSend && e.Proto == proto {
			p, _, err := Parse(e.Data)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, p)
		}
	}
	if len(got) != 1 {
		t.Fatalf("want one %#x packet, got %+v (effects %+v)", proto, got, fx)
	}
	return got[0]
}

// lastOf returns the last packet of proto with code in fx.
func lastOf(t *testing.T, fx []Effect, proto uint16, code uint8) Packet {
	t.Helper()
	for i := len(fx) - 1; i >= 0; i-- {
		e := fx[i]
		if e.Kind == EffectSend && e.Proto == proto && e.Data[0] == code {
			p, _, _ := Parse(e.Data)
			return p
		}
	}
	t.Fatalf("no %#x code %d in %+v", proto, code, fx)
	return Packet{}
}

func TestLCPRequestOptions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      *Config
		payload  uint16
		req      []byte // peer's Configure-Request options
		wantCode uint8
		wantOpts []byte
	}{
		{
			name: "unsupported options rejected", cfg: serverConfig(AuthPAP),
			req: []byte{1, 4, 5, 0xd4, 2, 6, 0, 0, 0, 0, 7, 2, 8, 2, 13, 3, 6, 5, 6, 1, 2, 3, 4},
			// ACCM, PFC, ACFC, callback
			wantCode: CodeConfigureReject, wantOpts: []byte{2, 6, 0, 0, 0, 0, 7, 2, 8, 2, 13, 3, 6},
		},
		{
			name: "server rejects auth asked of it", cfg: serverConfig(AuthPAP),
			req: []byte{3, 4, 0xc0, 0x23}, wantCode: CodeConfigureReject, wantOpts: []byte{3, 4, 0xc0, 0x23},
		},
		{
			name: "mru over 1492 naked", cfg: serverConfig(AuthPAP),
			req: []byte{1, 4, 0x05, 0xdc, 5, 6, 1, 2, 3, 4}, wantCode: CodeConfigureNak, wantOpts: []byte{1, 4, 0x05, 0xd4},
		},
		{
			name: "rfc 4638 mru 1500 accepted", cfg: serverConfig(AuthPAP), payload: 1500,
			req: []byte{1, 4, 0x05, 0xdc, 5, 6, 1, 2, 3, 4}, wantCode: CodeConfigureAck, wantOpts: []byte{1, 4, 0x05, 0xdc, 5, 6, 1, 2, 3, 4},
		},
		{
			name: "zero magic naked", cfg: serverConfig(AuthPAP),
			req: []byte{5, 6, 0, 0, 0, 0}, wantCode: CodeConfigureNak,
		},
		{
			name: "client naks auth it does not do", cfg: clientConfig(AuthPAP),
			req: []byte{3, 5, 0xc2, 0x23, 5}, wantCode: CodeConfigureNak, wantOpts: []byte{3, 4, 0xc0, 0x23},
		},
		{
			name: "client without credentials rejects auth", cfg: clientConfig(AuthNone),
			req: []byte{3, 4, 0xc0, 0x23}, wantCode: CodeConfigureReject, wantOpts: []byte{3, 4, 0xc0, 0x23},
		},
		{
			name: "client accepts chap md5", cfg: clientConfig(AuthCHAP),
			req: []byte{3, 5, 0xc2, 0x23, 5}, wantCode: CodeConfigureAck, wantOpts: []byte{3, 5, 0xc2, 0x23, 5},
		},
		{
			name: "bad option length rejected", cfg: serverConfig(AuthPAP),
			req: []byte{1, 3, 5}, wantCode: CodeConfigureReject, wantOpts: []byte{1, 3, 5},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := New(tc.cfg)
			l.SetPeerMaxPayload(tc.payload)
			open := only(t, l.Open(t0), ProtoLCP)
			if tc.payload == 1500 && !bytes.Contains(open.Data, []byte{1, 4, 0x05, 0xdc}) {
				t.Errorf("RFC 4638: request %x does not advertise MRU 1500", open.Data)
			}
			fx := l.Input(t0, ProtoLCP, pkt(CodeConfigureRequest, 42, tc.req...))
			p := only(t, fx, ProtoLCP)
			if p.Code != tc.wantCode || p.ID != 42 {
				t.Fatalf("reply code %d id %d, want %d (%x)", p.Code, p.ID, tc.wantCode, p.Data)
			}
			if tc.wantOpts != nil && !bytes.Equal(p.Data, tc.wantOpts) {
				t.Errorf("reply options %x, want %x", p.Data, tc.wantOpts)
			}
			if err := ValidateOptions(p.Data); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestMaxFailure: after Max-Failure Naks, what would be Nak'd is Rejected.
func TestMaxFailure(t *testing.T) {
	cfg := serverConfig(AuthPAP)
	cfg.MaxFailure = 2
	l := New(cfg)
	l.Open(t0)
	var codes []uint8
	for i := range 4 {
		p := only(t, l.Input(t0, ProtoLCP, pkt(CodeConfigureRequest, uint8(i), 1, 4, 0x05, 0xdc)), ProtoLCP)
		codes = append(codes, p.Code)
	}
	want := []uint8{CodeConfigureNak, CodeConfigureNak, CodeConfigureReject, CodeConfigureReject}
	if !bytes.Equal(codes, want) {
		t.Errorf("codes %v, want %v", codes, want)
	}
}

func TestIPCPServer(t *testing.T) {
	for _, tc := range []struct {
		name     string
		np       NetParams
		req      []byte
		wantCode uint8
		wantOpts []byte
	}{
		{
			name: "wrong address naked with assigned", np: NetParams{PeerIP: peerIP},
			req: []byte{3, 6, 1, 2, 3, 4}, wantCode: CodeConfigureNak, wantOpts: []byte{3, 6, 100, 64, 0, 2},
		},
		{
			name: "dns requested, naked with ours", np: NetParams{PeerIP: peerIP, DNS: [2]netip.Addr{dns1, dns2}},
			req: []byte{3, 6, 100, 64, 0, 2, 129, 6, 0, 0, 0, 0, 131, 6, 0, 0, 0, 0}, wantCode: CodeConfigureNak,
			wantOpts: []byte{129, 6, 192, 0, 2, 53, 131, 6, 192, 0, 2, 54},
		},
		{
			name: "dns without servers rejected, compression rejected", np: NetParams{PeerIP: peerIP},
			req: []byte{3, 6, 100, 64, 0, 2, 2, 6, 0, 0x2d, 0x0f, 0x01, 129, 6, 0, 0, 0, 0}, wantCode: CodeConfigureReject,
			wantOpts: []byte{2, 6, 0, 0x2d, 0x0f, 0x01, 129, 6, 0, 0, 0, 0},
		},
		{
			name: "missing address hinted", np: NetParams{PeerIP: peerIP},
			req: []byte{}, wantCode: CodeConfigureNak, wantOpts: []byte{3, 6, 100, 64, 0, 2},
		},
		{
			name: "right address acked", np: NetParams{PeerIP: peerIP},
			req: []byte{3, 6, 100, 64, 0, 2}, wantCode: CodeConfigureAck, wantOpts: []byte{3, 6, 100, 64, 0, 2},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, serverConfig(AuthPAP), clientConfig(AuthPAP))
			p.decide = func(*AuthRequest) (bool, string, NetParams) { return true, "", tc.np }
			p.drop = func(from *side, proto uint16, _ []byte) bool { return from == p.s && proto == ProtoIPCP }
			p.open()
			if p.s.l.Phase() != PhaseNetwork {
				t.Fatalf("server phase %v", p.s.l.Phase())
			}
			fx := p.s.l.Input(p.now, ProtoIPCP, pkt(CodeConfigureRequest, 9, tc.req...))
			r := lastOf(t, fx, ProtoIPCP, tc.wantCode)
			if r.ID != 9 || !bytes.Equal(r.Data, tc.wantOpts) {
				t.Errorf("reply id %d options %x, want %x", r.ID, r.Data, tc.wantOpts)
			}
		})
	}
}

func TestIPv6CPIdentifiers(t *testing.T) {
	sid := uint64(0x0200_5eff_fe00_0001)
	for _, tc := range []struct {
		name     string
		iid      uint64
		wantCode uint8
	}{
		{"zero naked", 0, CodeConfigureNak},
		{"collision naked", sid, CodeConfigureNak},
		{"unique acked", 0x1122_3344_5566_7788, CodeConfigureAck},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, serverConfig(AuthPAP), clientConfig(AuthPAP))
			p.drop = func(from *side, proto uint16, _ []byte) bool { return from == p.s && proto == ProtoIPv6CP }
			p.open()
			opt := binary.BigEndian.AppendUint64([]byte{1, 10}, tc.iid)
			fx := p.s.l.Input(p.now, ProtoIPv6CP, pkt(CodeConfigureRequest, 3, opt...))
			r := lastOf(t, fx, ProtoIPv6CP, tc.wantCode)
			if len(r.Data) != 10 || r.Data[0] != 1 {
				t.Fatalf("reply %x", r.Data)
			}
			got := binary.BigEndian.Uint64(r.Data[2:])
			if tc.wantCode == CodeConfigureNak && (got == 0 || got == sid || got == tc.iid) {
				t.Errorf("suggested %#x", got)
			}
		})
	}
	// The client takes the suggestion and the link opens with distinct ids.
	ccfg := clientConfig(AuthPAP)
	ccfg.LocalIfaceID = sid
	p := openPair(t, serverConfig(AuthPAP), ccfg)
	if s, c := p.s.ups[ProtoIPv6CP], p.c.ups[ProtoIPv6CP]; c.LocalIfaceID == sid || c.LocalIfaceID != s.PeerIfaceID {
		t.Errorf("server %+v client %+v", s, c)
	}
}

func TestProtocolAndCodeReject(t *testing.T) {
	l := New(serverConfig(AuthPAP))
	l.Open(t0)
	// Before LCP is Opened, unknown protocols are silently discarded.
	if fx := l.Input(t0, 0x80fd, pkt(1, 1)); len(fx) != 0 {
		t.Fatalf("before Opened: %+v", fx)
	}
	if l.Stats().Discarded != 1 {
		t.Errorf("discarded %d", l.Stats().Discarded)
	}
	p := openPair(t, serverConfig(AuthPAP), clientConfig(AuthPAP))
	ccp := pkt(1, 1, 0x12, 6, 1, 2, 3, 4)
	r := only(t, p.s.l.Input(p.now, 0x80fd, ccp), ProtoLCP)
	if r.Code != CodeProtocolReject || !bytes.Equal(r.Data, append([]byte{0x80, 0xfd}, ccp...)) {
		t.Errorf("protocol reject %+v", r)
	}
	r = only(t, p.s.l.Input(p.now, ProtoLCP, pkt(77, 5, 1, 2)), ProtoLCP)
	if r.Code != CodeCodeReject || !bytes.Equal(r.Data, pkt(77, 5, 1, 2)) {
		t.Errorf("code reject %+v", r)
	}
	// Echo-Request is answered with our magic; Discard-Request is not.
	r = only(t, p.s.l.Input(p.now, ProtoLCP, pkt(CodeEchoRequest, 8, 0, 0, 0, 0, 'h', 'i')), ProtoLCP)
	if r.Code != CodeEchoReply || r.ID != 8 || binary.BigEndian.Uint32(r.Data) != p.s.l.localMagic || string(r.Data[4:]) != "hi" {
		t.Errorf("echo reply %+v", r)
	}
	if fx := p.s.l.Input(p.now, ProtoLCP, pkt(CodeDiscardRequest, 8, 0, 0, 0, 0)); len(fx) != 0 {
		t.Errorf("discard answered %+v", fx)
	}
	// A peer rejecting IPv6CP leaves IPv4 up.
	fx := p.s.l.Input(p.now, ProtoLCP, pkt(CodeProtocolReject, 9, 0x80, 0x57, 1, 1, 0, 4))
	if e := findKind(fx, EffectNetDown); e == nil || e.Proto != ProtoIPv6CP || p.s.l.IPCPState() != StateOpened {
		t.Errorf("after IPv6CP reject: %+v, IPCP %v", fx, p.s.l.IPCPState())
	}
}

func TestMalformedCounted(t *testing.T) {
	p := openPair(t, serverConfig(AuthPAP), clientConfig(AuthPAP))
	l := p.s.l
	for _, b := range [][]byte{{1}, {1, 1, 0, 9, 0}, {1, 2, 0, 6, 1, 9}, {9, 1, 0, 3}} {
		if fx := l.Input(p.now, ProtoLCP, b); len(fx) != 0 {
			t.Errorf("%x answered %+v", b, fx)
		}
	}
	if got := l.Stats().Malformed; got != 4 {
		t.Errorf("malformed %d, want 4", got)
	}
	if l.LCPState() != StateOpened {
		t.Errorf("state %v", l.LCPState())
	}
}

func TestAuthRetransmit(t *testing.T) {
	t.Run("chap response repeat answered", func(t *testing.T) {
		p := openPair(t, serverConfig(AuthCHAP), clientConfig(AuthCHAP))
		var resp frame
		for _, f := range p.c.sent {
			if f.proto == ProtoCHAP && f.data[0] == chapResponse {
				resp = f
			}
		}
		// The Success was lost: the client retransmits its Response.
		fx := p.s.l.Input(p.now, ProtoCHAP, resp.data)
		r := only(t, fx, ProtoCHAP)
		if r.Code != chapSuccess || r.ID != resp.data[1] || string(r.Data) != "welcome" || findKind(fx, EffectAuthRequest) != nil {
			t.Errorf("repeat %+v", fx)
		}
		// A Response with another Identifier is dropped.
		bad := bytes.Clone(resp.data)
		bad[1]++
		if fx := p.s.l.Input(p.now, ProtoCHAP, bad); len(fx) != 0 {
			t.Errorf("wrong id answered: %+v", fx)
		}
	})
	t.Run("chap challenge timer", func(t *testing.T) {
		cfg := serverConfig(AuthCHAP)
		cfg.MaxConfigure = 3
		p := newPair(t, cfg, clientConfig(AuthCHAP))
		p.drop = func(from *side, proto uint16, _ []byte) bool { return from == p.c && proto == ProtoCHAP }
		p.open()
		start := p.now
		for i := 0; i < 10 && p.s.down == nil; i++ {
			p.advance(time.Minute)
		}
		if n := countFrames(p.s.sent, ProtoCHAP, chapChallenge); n != 3 {
			t.Errorf("%d challenges, want 3", n)
		}
		if n := countFrames(p.c.sent, ProtoCHAP, chapResponse); n < 3 {
			t.Errorf("%d responses, want at least 3", n)
		}
		if d := p.s.down; d == nil || d.Reason != ReasonAuthFailed || d.Message != "authentication timeout" {
			t.Errorf("down %+v", d)
		}
		// 3 challenges 3 s apart, the last timer, then Terminate-Ack.
		if got := p.now.Sub(start); got != 9*time.Second {
			t.Errorf("down after %v", got)
		}
	})
	t.Run("chap client retransmits response when success is lost", func(t *testing.T) {
		p := newPair(t, serverConfig(AuthCHAP), clientConfig(AuthCHAP))
		lost := 0
		p.drop = func(from *side, proto uint16, data []byte) bool {
			if from == p.s && proto == ProtoCHAP && data[0] == chapSuccess && lost == 0 {
				lost++
				return true
			}
			return false
		}
		p.open()
		if p.c.authed || len(p.c.ups) != 0 {
			t.Fatalf("client authed without Success")
		}
		for i := 0; i < 5 && len(p.c.ups) < 2; i++ {
			p.advance(time.Minute)
		}
		if !p.c.authed || len(p.c.ups) != 2 || len(p.s.auths) != 1 {
			t.Fatalf("authed %v ups %v auth requests %d", p.c.authed, p.c.ups, len(p.s.auths))
		}
		if n := countFrames(p.c.sent, ProtoCHAP, chapResponse); n != 2 {
			t.Errorf("%d responses, want 2", n)
		}
		if !p.c.l.NextDeadline().IsZero() {
			t.Errorf("client timer still running: %v", p.c.l.NextDeadline())
		}
	})
	t.Run("pap request repeat after ack", func(t *testing.T) {
		p := openPair(t, serverConfig(AuthPAP), clientConfig(AuthPAP))
		req := pkt(papRequest, 77, AppendPAPRequest(nil, "alice", "s3cret")...)
		fx := p.s.l.Input(p.now, ProtoPAP, req)
		r := only(t, fx, ProtoPAP)
		if r.Code != papAck || r.ID != 77 || findKind(fx, EffectAuthRequest) != nil {
			t.Errorf("repeat %+v", fx)
		}
	})
	t.Run("pap client retransmits, server times out", func(t *testing.T) {
		cfg := serverConfig(AuthPAP)
		cfg.AuthTimeout = 20 * time.Second
		p := newPair(t, cfg, clientConfig(AuthPAP))
		p.drop = func(from *side, proto uint16, _ []byte) bool { return from == p.c && proto == ProtoPAP }
		p.open()
		start := p.now
		for i := 0; i < 20 && p.s.down == nil; i++ {
			p.advance(time.Minute)
		}
		if d := p.s.down; d == nil || d.Reason != ReasonAuthFailed || p.now.Sub(start) != 20*time.Second {
			t.Errorf("down %+v after %v", d, p.now.Sub(start))
		}
		if n := countFrames(p.c.sent, ProtoPAP, papRequest); n != 7 { // t=0,3,...,18
			t.Errorf("client sent %d PAP requests", n)
		}
	})
}

func TestCloseEarly(t *testing.T) {
	t.Run("before open", func(t *testing.T) {
		l := New(serverConfig(AuthPAP))
		fx := l.Close(t0, ReasonNone)
		if d := findKind(fx, EffectDown); d == nil || d.Reason != ReasonAdmin || len(fx) != 1 {
			t.Fatalf("effects %+v", fx)
		}
		if fx := l.Open(t0); len(fx) != 0 || !l.Done() {
			t.Errorf("reopened: %+v", fx)
		}
	})
	t.Run("while negotiating", func(t *testing.T) {
		cfg := serverConfig(AuthPAP)
		l := New(cfg)
		l.Open(t0)
		fx := l.Close(t0, ReasonAdmin)
		if r := only(t, fx, ProtoLCP); r.Code != CodeTerminateRequest {
			t.Fatalf("sent %+v", r)
		}
		now := t0
		var down *Effect
		for i := 0; i < 5 && down == nil; i++ {
			now = l.NextDeadline()
			down = findKind(l.Tick(now), EffectDown)
		}
		if down == nil || down.Reason != ReasonAdmin || now.Sub(t0) != 2*DefaultRestart {
			t.Fatalf("down %+v after %v", down, now.Sub(t0))
		}
		if !l.NextDeadline().IsZero() || l.Phase() != PhaseDead {
			t.Errorf("deadline %v phase %v", l.NextDeadline(), l.Phase())
		}
	})
	t.Run("tick before deadline does nothing", func(t *testing.T) {
		l := New(serverConfig(AuthPAP))
		l.Open(t0)
		if fx := l.Tick(t0.Add(time.Second)); len(fx) != 0 {
			t.Errorf("early tick: %+v", fx)
		}
		if got := l.NextDeadline(); !got.Equal(t0.Add(DefaultRestart)) {
			t.Errorf("deadline %v", got)
		}
	})
}

// TestClientIPCP: the client asks for 0.0.0.0 and DNS, takes the Naks, and
// acks the server's address.
func TestClientIPCP(t *testing.T) {
	p := newPair(t, serverConfig(AuthPAP), clientConfig(AuthPAP))
	p.drop = func(from *side, proto uint16, _ []byte) bool { return proto == ProtoIPCP }
	p.open()
	var first Packet
	for _, f := range p.c.sent {
		if f.proto == ProtoIPCP {
			first, _, _ = Parse(f.data)
			break
		}
	}
	if want := []byte{3, 6, 0, 0, 0, 0, 129, 6, 0, 0, 0, 0, 131, 6, 0, 0, 0, 0}; first.Code != CodeConfigureRequest || !bytes.Equal(first.Data, want) {
		t.Fatalf("client request %+v", first)
	}
	c := p.c.l
	fx := c.Input(p.now, ProtoIPCP, pkt(CodeConfigureNak, first.ID, 3, 6, 100, 64, 0, 2, 129, 6, 192, 0, 2, 53))
	r := only(t, fx, ProtoIPCP)
	if want := []byte{3, 6, 100, 64, 0, 2, 129, 6, 192, 0, 2, 53, 131, 6, 0, 0, 0, 0}; r.Code != CodeConfigureRequest || !bytes.Equal(r.Data, want) {
		t.Fatalf("after Nak %+v", r)
	}
	fx = c.Input(p.now, ProtoIPCP, pkt(CodeConfigureReject, r.ID, 131, 6, 0, 0, 0, 0))
	r = only(t, fx, ProtoIPCP)
	if want := []byte{3, 6, 100, 64, 0, 2, 129, 6, 192, 0, 2, 53}; !bytes.Equal(r.Data, want) {
		t.Fatalf("after Reject %x", r.Data)
	}
	fx = c.Input(p.now, ProtoIPCP, pkt(CodeConfigureAck, r.ID, r.Data...))
	fx2 := c.Input(p.now, ProtoIPCP, pkt(CodeConfigureRequest, 1, 3, 6, 10, 0, 0, 1, 2, 6, 0, 0x2d, 0x0f, 0x01))
	if rr := only(t, fx2, ProtoIPCP); rr.Code != CodeConfigureReject {
		t.Fatalf("compression not rejected: %+v", rr)
	}
	fx2 = c.Input(p.now, ProtoIPCP, pkt(CodeConfigureRequest, 2, 3, 6, 10, 0, 0, 1))
	up := findKind(fx2, EffectUp)
	if len(fx) != 0 || up == nil {
		t.Fatalf("effects %+v / %+v", fx, fx2)
	}
	want := NetUp{Proto: ProtoIPCP, LocalIP: peerIP, PeerIP: serverIP, DNS: [2]netip.Addr{dns1}}
	if *up.Net != want {
		t.Errorf("up %+v, want %+v", *up.Net, want)
	}
}

// TestNCPRejected: a peer without IPv6 Protocol-Rejects IPv6CP and the
// link runs on IPv4 alone; a peer rejecting every NCP ends the link.
func TestNCPRejected(t *testing.T) {
	ccfg := clientConfig(AuthPAP)
	ccfg.IPv6 = false
	p := newPair(t, serverConfig(AuthPAP), ccfg)
	p.open()
	if len(p.s.ups) != 1 || len(p.c.ups) != 1 || p.s.l.IPv6CPState() != StateStopped {
		t.Fatalf("ups %v / %v, IPv6CP %v", p.s.ups, p.c.ups, p.s.l.IPv6CPState())
	}
	if n := countFrames(p.c.sent, ProtoLCP, CodeProtocolReject); n != 1 {
		t.Errorf("client sent %d Protocol-Rejects", n)
	}
	p.advance(time.Minute)
	if p.s.down != nil || p.s.l.Reason() != ReasonNone {
		t.Fatalf("down %+v", p.s.down)
	}
	// Now IPv4 goes too.
	p.effects(p.s, p.s.l.Input(p.now, ProtoLCP, pkt(CodeProtocolReject, 50, 0x80, 0x21, 1, 1, 0, 4)))
	p.settle()
	for i := 0; i < 5 && p.s.down == nil; i++ {
		p.advance(time.Minute)
	}
	if p.s.down == nil || p.s.down.Reason != ReasonNegotiation {
		t.Fatalf("down %+v", p.s.down)
	}
}
