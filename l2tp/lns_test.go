package l2tp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

type dataEv struct {
	c       *Call
	proto   uint16
	payload []byte
}

type closedEv struct {
	c *Call
	r Result
}

// recHandler records what an LNS or LAC reports.
type recHandler struct {
	up     chan *Call
	closed chan closedEv
	data   chan dataEv
	refuse func(*Call) error
}

func newRecHandler() *recHandler {
	return &recHandler{up: make(chan *Call, 1000), closed: make(chan closedEv, 1000), data: make(chan dataEv, 1000)}
}

func (h *recHandler) NewCall(c *Call) error {
	if h.refuse != nil {
		if err := h.refuse(c); err != nil {
			return err
		}
	}
	h.up <- c
	return nil
}

func (h *recHandler) CallData(c *Call, proto uint16, payload []byte) {
	h.data <- dataEv{c, proto, append([]byte(nil), payload...)}
}

func (h *recHandler) CallClosed(c *Call, r Result) { h.closed <- closedEv{c, r} }

// guard bounds a wait that should succeed at once on loopback; it only
// turns a hang into a failure.
const guard = 20 * time.Second

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(guard):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func serve(t *testing.T, run func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
}

func startLNS(t *testing.T, h Handler) *LNS {
	t.Helper()
	lns, err := NewLNS(Config{
		Addr: "127.0.0.1:0", HostName: "lns.test", Handler: h, RequireAuth: true,
		Secrets: func(_ netip.Addr, host string) ([]byte, bool) {
			if strings.HasPrefix(host, "lac") {
				return []byte("secret"), true
			}
			return nil, false
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, lns.Serve)
	return lns
}

func startLAC(t *testing.T, host string, h Handler) *LAC {
	t.Helper()
	lac, err := NewLAC(Config{Addr: "127.0.0.1:0", HostName: host, Handler: h, HideAVPs: true})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, lac.Serve)
	return lac
}

func TestLoopbackLACToLNS(t *testing.T) {
	const nTunnels, nCalls = 10, 10
	lnsH, lacH := newRecHandler(), newRecHandler()
	lns := startLNS(t, lnsH)
	lac := startLAC(t, "lac1", lacH)
	ctx := context.Background()

	type key struct{ tid, sid uint16 } // LNS-side IDs
	lacCalls := map[key]*Call{}        // keyed by the LNS's IDs
	var tids []uint16
	for i := range nTunnels {
		tid, err := lac.Dial(ctx, lns.Addr(), []byte("secret"))
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		tids = append(tids, tid)
		for j := range nCalls {
			c, err := lac.Call(ctx, tid, CallParams{CallingNumber: fmt.Sprintf("sub-%d-%d", i, j),
				SequencingRequired: j%2 == 0,
				Proxy:              &ProxyInfo{AuthenType: ProxyAuthenPAP, AuthenName: "bob", AuthenResponse: []byte("pw")}})
			if err != nil {
				t.Fatalf("call %d/%d: %v", i, j, err)
			}
			lacCalls[key{c.Info().PeerTunnelID, c.Info().PeerSessionID}] = c
			recv(t, lacH.up, "LAC NewCall")
		}
	}
	lnsCalls := map[key]*Call{}
	for range nTunnels * nCalls {
		c := recv(t, lnsH.up, "LNS NewCall")
		ci := c.Info()
		if ci.Proxy == nil || ci.Proxy.AuthenName != "bob" || string(ci.Proxy.AuthenResponse) != "pw" || ci.PeerHostName != "lac1" {
			t.Fatalf("call info %+v proxy %+v", ci, ci.Proxy)
		}
		lnsCalls[key{ci.TunnelID, ci.SessionID}] = c
	}
	if len(lnsCalls) != nTunnels*nCalls || len(lacCalls) != len(lnsCalls) {
		t.Fatalf("calls: lns %d lac %d", len(lnsCalls), len(lacCalls))
	}
	tuns := lns.Tunnels()
	if len(tuns) != nTunnels {
		t.Fatalf("LNS has %d tunnels", len(tuns))
	}
	for _, ti := range tuns {
		if ti.State != TunnelEstablished || ti.Sessions != nCalls || ti.HostName != "lac1" || ti.Peer != lac.Addr() {
			t.Fatalf("tunnel %+v", ti)
		}
	}

	// Data, LAC → LNS (LCP to CallData) and LNS → LAC.
	for k, c := range lacCalls {
		if err := c.SendPPP(ProtoLCP, fmt.Appendf(nil, "up %d/%d", k.tid, k.sid)); err != nil {
			t.Fatal(err)
		}
	}
	for range lacCalls {
		d := recv(t, lnsH.data, "LNS data")
		ci := d.c.Info()
		if want := fmt.Sprintf("up %d/%d", ci.TunnelID, ci.SessionID); d.proto != ProtoLCP || string(d.payload) != want {
			t.Fatalf("LNS got %#04x %q, want %q", d.proto, d.payload, want)
		}
	}
	for k, c := range lnsCalls {
		if err := c.SendPPP(ProtoIPv4, fmt.Appendf(nil, "down %d/%d", k.tid, k.sid)); err != nil {
			t.Fatal(err)
		}
	}
	for range lnsCalls {
		d := recv(t, lacH.data, "LAC data")
		ci := d.c.Info()
		if want := fmt.Sprintf("down %d/%d", ci.PeerTunnelID, ci.PeerSessionID); d.proto != ProtoIPv4 || string(d.payload) != want {
			t.Fatalf("LAC got %#04x %q, want %q", d.proto, d.payload, want)
		}
	}

	// The IP fast path: with an IP writer, IP frames skip CallData.
	var one key
	for k := range lnsCalls {
		one = k
		break
	}
	ipc := make(chan []byte, 4)
	lnsCalls[one].SetIPWriter(func(proto uint16, pkt []byte) {
		if proto == ProtoIPv4 {
			ipc <- append([]byte(nil), pkt...)
		}
	})
	lacCalls[one].SendPPP(ProtoIPv4, []byte{0x45, 1, 2})
	lacCalls[one].SendPPP(ProtoLCP, []byte{9})
	if p := recv(t, ipc, "IP writer"); !bytes.Equal(p, []byte{0x45, 1, 2}) {
		t.Fatalf("IP writer got %x", p)
	}
	if d := recv(t, lnsH.data, "LCP after IP"); d.proto != ProtoLCP {
		t.Fatalf("CallData got %#04x, want only LCP", d.proto)
	}
	if st := lnsCalls[one].Stats(); st.RxPackets < 3 || st.TxPackets != 1 {
		t.Fatalf("stats %+v", st)
	}

	// CDN from the LAC side.
	var k0 key
	for k, c := range lacCalls {
		if c.Info().TunnelID == tids[0] {
			k0 = k
			break
		}
	}
	lacCalls[k0].Close(Result{Code: CDNAdmin, Message: "user hung up"})
	ev := recv(t, lnsH.closed, "LNS CallClosed")
	if ev.c != lnsCalls[k0] || ev.r.Code != CDNAdmin || ev.r.Message != "user hung up" {
		t.Fatalf("LNS closed %+v", ev)
	}
	recv(t, lacH.closed, "LAC CallClosed (own CDN)")
	if err := lnsCalls[k0].SendPPP(ProtoLCP, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("send on closed call: %v", err)
	}
	delete(lnsCalls, k0)
	delete(lacCalls, k0)

	// CDN from the LNS side.
	var k1 key
	for k := range lnsCalls {
		k1 = k
		break
	}
	lnsCalls[k1].Close(Result{Code: CDNLostCarrier})
	ev = recv(t, lacH.closed, "LAC CallClosed")
	if ev.c != lacCalls[k1] || ev.r.Code != CDNLostCarrier {
		t.Fatalf("LAC closed %+v", ev)
	}
	recv(t, lnsH.closed, "LNS CallClosed (own CDN)")
	delete(lnsCalls, k1)
	delete(lacCalls, k1)

	// StopCCN from the LAC: every call of that tunnel ends at the LNS.
	lacTid := lacCalls[func() key {
		for k := range lacCalls {
			return k
		}
		return key{}
	}()].Info().TunnelID
	lnsTid := uint16(0)
	n := 0
	for k, c := range lacCalls {
		if c.Info().TunnelID == lacTid {
			lnsTid = k.tid
			n++
		}
	}
	if err := lac.CloseTunnel(lacTid, Result{Code: StopClear}); err != nil {
		t.Fatal(err)
	}
	for range n {
		ev := recv(t, lnsH.closed, "LNS CallClosed after StopCCN")
		if ev.c.Info().TunnelID != lnsTid {
			t.Fatalf("closed call on tunnel %d, want %d", ev.c.Info().TunnelID, lnsTid)
		}
		recv(t, lacH.closed, "LAC CallClosed after own StopCCN")
	}
	for _, ti := range lns.Tunnels() {
		if ti.LocalID == lnsTid && ti.State == TunnelEstablished {
			t.Fatalf("tunnel %d still established", lnsTid)
		}
	}

	// StopCCN from the LNS.
	var other uint16
	for k := range lnsCalls {
		if k.tid != lnsTid {
			other = k.tid
			break
		}
	}
	n = 0
	for k := range lnsCalls {
		if k.tid == other {
			n++
		}
	}
	if err := lns.CloseTunnel(other, Result{Code: StopShuttingDown}); err != nil {
		t.Fatal(err)
	}
	for range n {
		ev := recv(t, lacH.closed, "LAC CallClosed after LNS StopCCN")
		if ev.c.Info().PeerTunnelID != other {
			t.Fatalf("LAC closed call of tunnel %d, want %d", ev.c.Info().PeerTunnelID, other)
		}
		recv(t, lnsH.closed, "LNS CallClosed after own StopCCN")
	}
}

func TestLoopbackWrongSecret(t *testing.T) {
	lns := startLNS(t, newRecHandler())
	ctx := context.Background()
	// The right host name but the wrong secret: our LAC sees the LNS's
	// challenge response fail.
	lac := startLAC(t, "lac1", newRecHandler())
	if _, err := lac.Dial(ctx, lns.Addr(), []byte("wrong")); !errors.Is(err, ErrTunnelAuth) {
		t.Fatalf("wrong secret: %v", err)
	}
	// A host the LNS has no secret for: refused with StopCCN result 4.
	intruder := startLAC(t, "intruder", newRecHandler())
	_, err := intruder.Dial(ctx, lns.Addr(), nil)
	var re *ResultError
	if !errors.As(err, &re) || re.Result.Code != StopNotAuthorized {
		t.Fatalf("unknown host: %v", err)
	}
	// The good one still works.
	if _, err := lac.Dial(ctx, lns.Addr(), []byte("secret")); err != nil {
		t.Fatal(err)
	}
}

func TestLoopbackRefusedCall(t *testing.T) {
	lnsH := newRecHandler()
	lnsH.refuse = func(*Call) error {
		return &ResultError{Result{Code: CDNNoFacilitiesTemp, Message: "full"}}
	}
	lns := startLNS(t, lnsH)
	lacH := newRecHandler()
	lac := startLAC(t, "lac1", lacH)
	ctx := context.Background()
	tid, err := lac.Dial(ctx, lns.Addr(), []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lac.Call(ctx, tid, CallParams{}); err != nil {
		t.Fatal(err)
	}
	ev := recv(t, lacH.closed, "LAC CallClosed")
	if ev.r.Code != CDNNoFacilitiesTemp || ev.r.Message != "full" {
		t.Fatalf("refusal %+v", ev.r)
	}
	select {
	case ev := <-lnsH.closed:
		t.Fatalf("CallClosed for a refused call: %+v", ev)
	default:
	}
}

// rawPeer is a hand-driven LAC on a plain UDP socket.
type rawPeer struct {
	t  *testing.T
	c  *net.UDPConn
	to *net.UDPAddr
	ns uint16
	nr uint16
}

func newRawPeer(t *testing.T, to netip.AddrPort) *rawPeer {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawPeer{t: t, c: c, to: net.UDPAddrFromAddrPort(to)}
}

func (p *rawPeer) send(tid, sid uint16, m *Message) {
	body := m.Append(nil, nil)
	h := Header{Control: true, HasLength: true, HasSeq: true, TunnelID: tid, SessionID: sid, Ns: p.ns, Nr: p.nr}
	p.ns++
	if _, err := p.c.WriteToUDP(append(h.Append(nil, len(body)), body...), p.to); err != nil {
		p.t.Fatal(err)
	}
}

// expect reads until a message of type mt arrives (skipping ZLBs).
func (p *rawPeer) expect(mt MsgType) (Header, *Message) {
	p.t.Helper()
	buf := make([]byte, 4096)
	p.c.SetReadDeadline(time.Now().Add(guard))
	for {
		n, err := p.c.Read(buf)
		if err != nil {
			p.t.Fatalf("waiting for %s: %v", mt, err)
		}
		h, body, err := ParseHeader(buf[:n])
		if err != nil || len(body) == 0 {
			continue
		}
		m, err := ParseMessage(body, nil)
		if err != nil {
			p.t.Fatal(err)
		}
		p.nr = h.Ns + 1
		if m.Type == mt {
			return h, m
		}
	}
}

func TestLNSPeerRestart(t *testing.T) {
	lns, err := NewLNS(Config{Addr: "127.0.0.1:0", Handler: newRecHandler()})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, lns.Serve)
	p := newRawPeer(t, lns.Addr())
	sccrq := NewMessage(MsgSCCRQ).Add(AVPProtocolVersion, []byte{1, 0}).Add(AVPHostName, []byte("raw")).
		AddUint32(AVPFramingCapabilities, 1).AddUint16(AVPAssignedTunnelID, 1)
	p.send(0, 0, sccrq)
	_, rp := p.expect(MsgSCCRP)
	first, _ := rp.Uint16(AVPAssignedTunnelID)
	// A retransmitted SCCRQ (same Ns 0) before SCCCN is a duplicate.
	p.ns = 0
	p.send(0, 0, sccrq)
	p.send(first, 0, NewMessage(MsgSCCCN))
	eventually(t, "tunnel established", func() bool {
		tuns := lns.Tunnels()
		return len(tuns) == 1 && tuns[0].State == TunnelEstablished
	})
	// The LAC restarts: Ns 0 again, same tunnel ID and port.
	p.ns, p.nr = 0, 0
	p.send(0, 0, sccrq)
	_, rp2 := p.expect(MsgSCCRP)
	second, _ := rp2.Uint16(AVPAssignedTunnelID)
	if second == first {
		t.Fatalf("restart answered by the old tunnel %d", first)
	}
	var states []string
	for _, ti := range lns.Tunnels() {
		states = append(states, fmt.Sprintf("%d:%s", ti.LocalID, ti.State))
		if ti.LocalID == first && ti.State == TunnelEstablished {
			t.Fatalf("old tunnel still established: %v", states)
		}
	}
}

// eventually polls cond (for state another goroutine reaches after a UDP
// round trip we cannot observe); guard bounds it.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLNSShutdown(t *testing.T) {
	lnsH, lacH := newRecHandler(), newRecHandler()
	lns, err := NewLNS(Config{Addr: "127.0.0.1:0", Handler: lnsH})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- lns.Serve(ctx) }()
	lac := startLAC(t, "lac1", lacH)
	tid, err := lac.Dial(context.Background(), lns.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lac.Call(context.Background(), tid, CallParams{}); err != nil {
		t.Fatal(err)
	}
	recv(t, lnsH.up, "LNS NewCall")
	cancel()
	if err := recv(t, done, "Serve to return"); err != nil {
		t.Fatal(err)
	}
	// CallClosed ran before Serve returned.
	select {
	case <-lnsH.closed:
	default:
		t.Fatal("no CallClosed at the LNS before Serve returned")
	}
	ev := recv(t, lacH.closed, "LAC CallClosed after the LNS's StopCCN")
	if ev.r.Code != CDNLostCarrier {
		t.Fatalf("LAC result %+v", ev.r)
	}
	if tuns := lns.Tunnels(); tuns != nil {
		t.Fatalf("Tunnels after shutdown: %+v", tuns)
	}
	if err := lns.CloseTunnel(1, Result{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("CloseTunnel after shutdown: %v", err)
	}
}
