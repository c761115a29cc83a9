package l2tp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bngbox/bngbox/internal/sockopt"
)

// dialReuse opens a UDP socket bound to local with SO_REUSEADDR and
// connected to peer: what the kernel dataplane does per tunnel.
func dialReuse(local, peer netip.AddrPort) (*net.UDPConn, error) {
	d := net.Dialer{LocalAddr: net.UDPAddrFromAddrPort(local), Control: sockopt.ReuseAddr}
	c, err := d.Dial("udp4", peer.String())
	if err != nil {
		return nil, err
	}
	return c.(*net.UDPConn), nil
}

// TestInputFromPerTunnelSocket: with ReuseAddr, a socket connected to the
// LAC can share the LNS's address; the kernel then delivers the LAC's
// packets to it, not to the LNS socket. Fed to Input, they bring the
// tunnel and a call up and carry the call's frames.
func TestInputFromPerTunnelSocket(t *testing.T) {
	lnsH, lacH := newRecHandler(), newRecHandler()
	lns, err := NewLNS(Config{
		Addr: "127.0.0.1:0", ReuseAddr: true, HostName: "lns.test", Handler: lnsH, RequireAuth: true,
		Secrets: func(netip.Addr, string) ([]byte, bool) { return []byte("secret"), true },
	})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, lns.Serve)
	lac := startLAC(t, "lac1", lacH)

	conn, err := dialReuse(lns.Addr(), lac.Addr())
	if err != nil {
		t.Fatalf("second socket on the LNS's address: %v", err)
	}
	var fed int
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			fed++
			lns.Input(buf[:n], lac.Addr())
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })

	ctx := context.Background()
	tid, err := lac.Dial(ctx, lns.Addr(), []byte("secret"))
	if err != nil {
		t.Fatalf("dial through Input: %v", err)
	}
	c, err := lac.Call(ctx, tid, CallParams{CallingNumber: "sub"})
	if err != nil {
		t.Fatalf("call through Input: %v", err)
	}
	recv(t, lnsH.up, "LNS NewCall")
	if err := c.SendPPP(ProtoLCP, []byte("via input")); err != nil {
		t.Fatal(err)
	}
	if d := recv(t, lnsH.data, "LNS data"); d.proto != ProtoLCP || string(d.payload) != "via input" {
		t.Fatalf("LNS got %#04x %q", d.proto, d.payload)
	}
	conn.Close()
	<-done
	// SCCRQ, SCCCN, ICRQ, ICCN and the data frame at least (plus ZLBs).
	if fed < 5 {
		t.Errorf("%d packets came through the per-tunnel socket, want at least 5", fed)
	}
}

// TestReuseAddrOff: without ReuseAddr the LNS's address stays exclusive.
func TestReuseAddrOff(t *testing.T) {
	lns := startLNS(t, newRecHandler())
	c, err := dialReuse(lns.Addr(), netip.MustParseAddrPort("127.0.0.1:9"))
	if err == nil {
		c.Close()
		t.Fatal("bound a second socket to the LNS's address without ReuseAddr")
	}
	if !errors.Is(err, unix.EADDRINUSE) && !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("err = %v, want EADDRINUSE", err)
	}
}
