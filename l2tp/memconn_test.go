package l2tp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// memNet is an in-memory datagram network whose blocking is visible to
// testing/synctest, so the LNS/LAC loops can run on a fake clock.
type memNet struct {
	mu    sync.Mutex
	conns map[netip.AddrPort]*memConn
}

type memPkt struct {
	from netip.AddrPort
	b    []byte
}

type memConn struct {
	net  *memNet
	addr netip.AddrPort
	in   chan memPkt
	done chan struct{}
	once sync.Once
	mute atomic.Bool // drop everything this conn sends
	// dropEvery, when > 0, drops every dropEvery-th packet this conn sends.
	dropEvery int
	// drop, when set, drops the packets it returns true for.
	drop func(b []byte) bool
	sent atomic.Int64
}

var _ PacketConn = (*memConn)(nil)

func (m *memNet) listen(addr string) *memConn {
	ap := netip.MustParseAddrPort(addr)
	c := &memConn{net: m, addr: ap, in: make(chan memPkt, 1024), done: make(chan struct{})}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conns == nil {
		m.conns = map[netip.AddrPort]*memConn{}
	}
	m.conns[ap] = c
	return c
}

func (c *memConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	select {
	case p := <-c.in:
		return copy(b, p.b), p.from, nil
	case <-c.done:
		return 0, netip.AddrPort{}, net.ErrClosed
	}
}

func (c *memConn) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	if n := c.sent.Add(1); c.mute.Load() || (c.dropEvery > 0 && n%int64(c.dropEvery) == 0) || (c.drop != nil && c.drop(b)) {
		return len(b), nil
	}
	c.net.mu.Lock()
	dst := c.net.conns[to]
	c.net.mu.Unlock()
	if dst != nil {
		select {
		case dst.in <- memPkt{c.addr, append([]byte(nil), b...)}:
		default: // queue full: lost, like UDP
		}
	}
	return len(b), nil
}

func (c *memConn) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(c.addr) }

func (c *memConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return nil
}

// TestDriverHelloTimeout runs an LNS and a LAC on a fake clock: an idle
// tunnel survives on Hellos, and a LAC that goes silent is torn down by the
// LNS after the Hello goes unacknowledged, ending its calls.
func TestDriverHelloTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mn memNet
		lnsConn, lacConn := mn.listen("192.0.2.1:1701"), mn.listen("192.0.2.2:1701")
		ch := ChannelConfig{MaxRetransmits: 3, RetransmitInitial: time.Second, RetransmitMax: 4 * time.Second}
		lnsH, lacH := newRecHandler(), newRecHandler()
		lns, err := NewLNS(Config{Conn: lnsConn, Handler: lnsH, HelloInterval: 10 * time.Second, Channel: ch})
		if err != nil {
			t.Fatal(err)
		}
		lac, err := NewLAC(Config{Conn: lacConn, Handler: lacH, HelloInterval: 10 * time.Second, Channel: ch})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for _, s := range []func(context.Context) error{lns.Serve, lac.Serve} {
			wg.Go(func() { s(ctx) })
		}
		defer wg.Wait()
		defer cancel()

		tid, err := lac.Dial(ctx, lnsConn.addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lac.Call(ctx, tid, CallParams{}); err != nil {
			t.Fatal(err)
		}
		lnsCall := <-lnsH.up

		time.Sleep(10 * time.Minute) // idle: Hellos both ways keep it up
		synctest.Wait()
		if tuns := lns.Tunnels(); len(tuns) != 1 || tuns[0].State != TunnelEstablished || tuns[0].Sessions != 1 {
			t.Fatalf("after idling: %+v", tuns)
		}
		select {
		case ev := <-lnsH.closed:
			t.Fatalf("call closed while idle: %+v", ev)
		default:
		}

		lacConn.mute.Store(true) // the LAC goes silent
		start := time.Now()
		ev := <-lnsH.closed
		// A Hello within 10 s of silence, retransmitted at +1, +3, +7 s
		// (backoff 1, 2, 4 capped at 4) and given up at +11 s.
		if took := time.Since(start); ev.c != lnsCall || took < 11*time.Second || took > 21*time.Second {
			t.Fatalf("closed %v after %v", ev, took)
		}
		synctest.Wait()
		if tuns := lns.Tunnels(); len(tuns) != 0 {
			t.Fatalf("LNS still has %+v", tuns)
		}
	})
}

// TestDriverLossyNetwork brings tunnels and calls up and down through a
// network that loses every third packet each way, on a fake clock.
func TestDriverLossyNetwork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mn memNet
		lnsConn, lacConn := mn.listen("192.0.2.1:1701"), mn.listen("192.0.2.2:1701")
		lnsConn.dropEvery, lacConn.dropEvery = 3, 3
		lnsH, lacH := newRecHandler(), newRecHandler()
		secret := func(netip.Addr, string) ([]byte, bool) { return []byte("k"), true }
		lns, err := NewLNS(Config{Conn: lnsConn, Handler: lnsH, Secrets: secret, RequireAuth: true,
			Channel: ChannelConfig{ReceiveWindow: 2}})
		if err != nil {
			t.Fatal(err)
		}
		lac, err := NewLAC(Config{Conn: lacConn, Handler: lacH, HideAVPs: true})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for _, s := range []func(context.Context) error{lns.Serve, lac.Serve} {
			wg.Go(func() { s(ctx) })
		}
		defer wg.Wait()
		defer cancel()

		const nT, nC = 3, 5
		for range nT {
			tid, err := lac.Dial(ctx, lnsConn.addr, []byte("k"))
			if err != nil {
				t.Fatal(err)
			}
			// Place the calls concurrently: more than the LNS's window of 2
			// messages are outstanding, so the LAC must queue.
			var cwg sync.WaitGroup
			errs := make(chan error, nC)
			for range nC {
				cwg.Go(func() {
					_, err := lac.Call(ctx, tid, CallParams{Proxy: &ProxyInfo{AuthenType: ProxyAuthenPAP, AuthenName: "u", AuthenResponse: []byte("p")}})
					errs <- err
				})
			}
			cwg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		var calls []*Call
		for range nT * nC {
			c := <-lnsH.up
			if c.Info().Proxy == nil || string(c.Info().Proxy.AuthenResponse) != "p" {
				t.Fatalf("proxy %+v", c.Info().Proxy)
			}
			calls = append(calls, c)
		}
		for _, ti := range lns.Tunnels() {
			if ti.State != TunnelEstablished || ti.Sessions != nC {
				t.Fatalf("tunnel %+v", ti)
			}
		}
		for _, c := range calls {
			if err := c.Close(Result{Code: CDNAdmin}); err != nil {
				t.Fatal(err)
			}
		}
		for range nT * nC {
			if ev := <-lacH.closed; ev.r.Code != CDNAdmin {
				t.Fatalf("LAC closed with %+v", ev.r)
			}
		}
		if lnsConn.sent.Load() < 20 || lacConn.sent.Load() < 20 {
			t.Fatalf("sent %d/%d packets", lnsConn.sent.Load(), lacConn.sent.Load())
		}
	})
}

// TestDriverCallSetupTimeout: the LNS's ICRP never arrives, so the LAC
// clears the call with CDN result 10 and Call returns that result.
func TestDriverCallSetupTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mn memNet
		lnsConn, lacConn := mn.listen("192.0.2.1:1701"), mn.listen("192.0.2.2:1701")
		lnsConn.drop = func(b []byte) bool {
			_, body, err := ParseHeader(b)
			if err != nil || len(body) == 0 {
				return false
			}
			m, _ := ParseMessage(body, nil)
			return m != nil && m.Type == MsgICRP
		}
		lns, _ := NewLNS(Config{Conn: lnsConn, Handler: newRecHandler(), Channel: ChannelConfig{MaxRetransmits: 10}})
		lacH := newRecHandler()
		lac, _ := NewLAC(Config{Conn: lacConn, Handler: lacH, CallSetupTimeout: 5 * time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for _, s := range []func(context.Context) error{lns.Serve, lac.Serve} {
			wg.Go(func() { s(ctx) })
		}
		defer wg.Wait()
		defer cancel()
		tid, err := lac.Dial(ctx, lnsConn.addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = lac.Call(ctx, tid, CallParams{})
		var re *ResultError
		if !errors.As(err, &re) || re.Result.Code != CDNTimeout || time.Since(start) != 5*time.Second {
			t.Fatalf("Call: %v after %v", err, time.Since(start))
		}
		select {
		case <-lacH.up:
			t.Fatal("NewCall for a call that never connected")
		default:
		}
		// The LNS got the CDN (matched by session ID) and forgot the call.
		synctest.Wait()
		if tuns := lns.Tunnels(); len(tuns) != 1 || tuns[0].Sessions != 0 {
			t.Fatalf("LNS tunnels %+v", tuns)
		}
	})
}
