//go:build integration

// Topology:
//
//	bbt-<id>-bng              bbt-<id>-cli
//	  bbt<id>a  <--- veth --->  bbt<id>b
//	  (Conn under test)         (raw AF_PACKET sender)
package afpacket_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/bngbox/bngbox/internal/afpacket"
	"github.com/bngbox/bngbox/internal/afpacket/nstest"
)

func frame(dst, src []byte, tags [][2]uint16, et uint16, payload []byte) []byte {
	b := append(append([]byte{}, dst...), src...)
	for _, tg := range tags {
		b = binary.BigEndian.AppendUint16(b, tg[0])
		b = binary.BigEndian.AppendUint16(b, tg[1])
	}
	b = binary.BigEndian.AppendUint16(b, et)
	return append(b, payload...)
}

// reader copies every frame c receives into a channel until c closes.
func reader(c *afpacket.Conn) <-chan []byte {
	ch := make(chan []byte, 64)
	go func() {
		defer close(ch)
		for {
			fs, err := c.ReadBatch()
			if err != nil {
				return
			}
			for _, f := range fs {
				ch <- append([]byte(nil), f...)
			}
		}
	}()
	return ch
}

func next(t *testing.T, ch <-chan []byte) []byte {
	t.Helper()
	select {
	case f, ok := <-ch:
		if !ok {
			t.Fatal("reader stopped")
		}
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no frame within 5s")
	}
	return nil
}

func TestIntegrationTagsInBand(t *testing.T) {
	id := nstest.ID()
	bng := nstest.New(t, id, "bng")
	cli := nstest.New(t, id, "cli")
	a, b := nstest.Veth(t, id, bng, cli)

	var srv, peer *afpacket.Conn
	var err1, err2 error
	bng.Do(t, func() { srv, err1 = afpacket.Listen(a) })
	cli.Do(t, func() { peer, err2 = afpacket.Listen(b) })
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	srvCh, peerCh := reader(srv), reader(peer)
	t.Cleanup(func() {
		srv.Close()
		peer.Close()
		for range srvCh {
		}
		for range peerCh {
		}
	})

	bcast := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	padi := []byte{0x11, 0x09, 0x00, 0x00, 0x00, 0x04, 0x01, 0x01, 0x00, 0x00} // PADI, Service-Name ""
	want := [][]byte{
		frame(bcast, peer.MAC(), nil, 0x8863, padi),
		frame(bcast, peer.MAC(), [][2]uint16{{0x8100, 0x2000 | 100}}, 0x8863, padi),
		frame(bcast, peer.MAC(), [][2]uint16{{0x88a8, 10}, {0x8100, 20}}, 0x8863, padi),
		frame(srv.MAC(), peer.MAC(), [][2]uint16{{0x8100, 30}}, 0x8864, []byte{0x11, 0, 0, 1, 0, 2, 0xc0, 0x21}),
	}
	noise := [][]byte{
		frame(bcast, peer.MAC(), nil, 0x0806, make([]byte, 28)),
		frame(bcast, peer.MAC(), [][2]uint16{{0x8100, 100}}, 0x0800, make([]byte, 20)),
		frame(bcast, peer.MAC(), [][2]uint16{{0x88a8, 10}, {0x8100, 20}}, 0x86dd, make([]byte, 40)),
	}
	for i, f := range want {
		if err := peer.WriteFrame(noise[i%len(noise)]); err != nil {
			t.Fatal(err)
		}
		if err := peer.WriteFrame(f); err != nil {
			t.Fatal(err)
		}
	}
	for i, w := range want {
		if got := next(t, srvCh); !bytes.Equal(got, w) {
			t.Errorf("frame %d\n got % x\nwant % x", i, got, w)
		}
	}

	// The other direction: a QinQ session frame written by srv arrives as is.
	out := frame(peer.MAC(), srv.MAC(), [][2]uint16{{0x88a8, 7}, {0x8100, 8}}, 0x8864, []byte{0x11, 0, 0, 9, 0, 2, 0xc0, 0x21})
	if err := srv.WriteFrame(out); err != nil {
		t.Fatal(err)
	}
	if got := next(t, peerCh); !bytes.Equal(got, out) {
		t.Errorf("reverse\n got % x\nwant % x", got, out)
	}
	// srv must not see its own outgoing frame.
	if err := peer.WriteFrame(want[0]); err != nil {
		t.Fatal(err)
	}
	if got := next(t, srvCh); !bytes.Equal(got, want[0]) {
		t.Errorf("after write: got % x (own outgoing frame?)", got)
	}
	if srv.Truncated() != 0 {
		t.Errorf("truncated = %d", srv.Truncated())
	}
}

// TestIntegrationCloseUnblocksRead: Close ends a blocked ReadBatch with an
// error wrapping net.ErrClosed (readers tell a shutdown from a failure).
func TestIntegrationCloseUnblocksRead(t *testing.T) {
	id := nstest.ID()
	bng := nstest.New(t, id, "bng")
	cli := nstest.New(t, id, "cli")
	a, _ := nstest.Veth(t, id, bng, cli)
	var c *afpacket.Conn
	var err error
	bng.Do(t, func() { c, err = afpacket.Listen(a) })
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.ReadBatch()
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond) // let ReadBatch block (either way it must end)
	c.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("ReadBatch after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadBatch still blocked 5 s after Close")
	}
}
