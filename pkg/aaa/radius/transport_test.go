package radius

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/bngbox/bngbox/pkg/aaa"
)

// responder is a minimal loopback RADIUS server for transport tests: it
// collects batch requests, then answers them all (so that batch requests
// are outstanding at once), each preceded by a forged reply when forge.
type responder struct {
	pc      net.PacketConn
	secret  []byte
	batch   int
	forge   bool
	mu      sync.Mutex
	sources map[string]bool
}

func newResponder(t *testing.T, batch int, forge bool) *responder {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// batch requests arrive at once: without room for them all, a slow
	// reader (a loaded machine) loses some and never reaches batch.
	setReadBuffer(pc.(*net.UDPConn), 2<<20)
	r := &responder{pc: pc, secret: []byte("s3cret"), batch: batch, forge: forge, sources: map[string]bool{}}
	t.Cleanup(func() { pc.Close() })
	go r.runLoop(t)
	return r
}

func (r *responder) runLoop(t *testing.T) {
	type req struct {
		from net.Addr
		b    []byte
	}
	var held []req
	buf := make([]byte, 4096)
	for {
		n, from, err := r.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		r.mu.Lock()
		r.sources[from.String()] = true
		r.mu.Unlock()
		held = append(held, req{from, append([]byte(nil), buf[:n]...)})
		if len(held) < r.batch {
			continue
		}
		for _, q := range held {
			auth := [16]byte(q.b[4:20])
			if r.forge {
				r.pc.WriteTo(reply(t, radius.CodeAccessAccept, q.b[1], auth, []byte("guess"), true), q.from)
			}
			r.pc.WriteTo(reply(t, radius.CodeAccessAccept, q.b[1], auth, r.secret, true, avp(attrFramedIPAddress, []byte{10, 0, 0, 1})), q.from)
		}
		held = held[:0]
	}
}

func transportClient(t *testing.T, addr net.Addr, maxInFlight int) *Client {
	c, err := New(Config{
		AuthServers: []Server{{Address: addr.String(), Secret: "s3cret"}},
		Timeout:     20 * time.Second, Retries: -1, MaxInFlight: maxInFlight,
		NASIdentifier: "nas1",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestTransportManyInFlight has 300 requests outstanding at once: more than
// one ID space, so the client must open a second socket.
func TestTransportManyInFlight(t *testing.T) {
	const n = 300
	r := newResponder(t, n, false)
	c := transportClient(t, r.pc.LocalAddr(), n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			rep, err := c.Authenticate(context.Background(), &aaa.Request{User: "u", Method: aaa.PAP, Password: "p"})
			if err == nil && rep.FramedIP != netip.MustParseAddr("10.0.0.1") {
				err = errors.New("wrong reply")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sources) != 2 {
		t.Errorf("requests came from %d sockets, want 2", len(r.sources))
	}
	if s := c.Servers()[0]; s.Requests != n || s.InFlight != 0 {
		t.Errorf("server %+v", s)
	}
}

// TestTransportForgedReplyDropped: a reply that fails verification is
// dropped and counted; the genuine one that follows is accepted.
func TestTransportForgedReplyDropped(t *testing.T) {
	r := newResponder(t, 1, true)
	c := transportClient(t, r.pc.LocalAddr(), 4)
	if _, err := c.Authenticate(context.Background(), &aaa.Request{User: "u", Method: aaa.PAP, Password: "p"}); err != nil {
		t.Fatal(err)
	}
	if got := c.Servers()[0].BadAuth; got != 1 {
		t.Errorf("bad authenticator count %d, want 1", got)
	}
}

func TestTransportContextCancel(t *testing.T) {
	r := newResponder(t, 1<<30, false) // never answers
	c := transportClient(t, r.pc.LocalAddr(), 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Authenticate(ctx, &aaa.Request{User: "u", Method: aaa.PAP}); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}
