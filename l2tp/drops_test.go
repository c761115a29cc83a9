package l2tp

import (
	"bytes"
	"context"
	"maps"
	"testing"
	"time"
)

// TestLNSDrops sends junk to an LNS and checks each drop counter moves:
// a short packet, a bad version, data and control for an unknown tunnel,
// data for an unknown session of a known tunnel, a control message beyond
// the receive window, a late sequenced data message, a data message
// without a PPP protocol.
func TestLNSDrops(t *testing.T) {
	lnsH := newRecHandler()
	lns := startLNS(t, lnsH)
	lac := startLAC(t, "lac1", newRecHandler())
	ctx := context.Background()
	if _, err := lac.Dial(ctx, lns.Addr(), []byte("secret")); err != nil {
		t.Fatal(err)
	}
	tid, err := lac.Dial(ctx, lns.Addr(), []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	lacCall, err := lac.Call(ctx, tid, CallParams{SerialNumber: 1})
	if err != nil {
		t.Fatal(err)
	}
	lnsCall := recv(t, lnsH.up, "LNS NewCall")
	info := lnsCall.Info()
	if got := lns.Drops(); len(got) != int(numDropReasons) || got["unknown_tunnel"] != 0 {
		t.Fatalf("drops before junk: %v", got)
	}

	p := newRawPeer(t, lns.Addr())
	raw := func(b []byte) {
		t.Helper()
		if _, err := p.c.WriteToUDP(b, p.to); err != nil {
			t.Fatal(err)
		}

	}
	data := func(tid, sid uint16, seq bool, ns uint16, proto uint16, payload []byte) []byte {
		h := Header{TunnelID: tid, SessionID: sid, HasSeq: seq, Ns: ns}
		return AppendData(nil, &h, proto, payload)
	}
	want := map[string]uint64{}
	check := func(what string) {
		t.Helper()
		defer func() {
			if t.Failed() {
				t.Logf("drops %v", lns.Drops())
			}
		}()
		eventually(t, what, func() bool {
			got := lns.Drops()
			for k, v := range want {
				if got[k] != v {
					return false
				}
			}
			return true
		})
	}

	raw([]byte{0xc8})                   // shorter than any header
	raw([]byte{0x00, 0x03, 0, 1, 0, 1}) // version 3
	want["malformed"] = 2
	check("malformed header drops")

	raw(data(info.TunnelID, info.SessionID, false, 0, 0, nil)[:8]) // known call, PPP frame cut short
	want["malformed"] = 3
	check("malformed PPP frame")

	unknownTID := info.TunnelID + 1
	for lns.tunnelKnown(unknownTID) || unknownTID == 0 {
		unknownTID++
	}
	raw(data(unknownTID, 1, false, 0, ProtoIPv4, []byte{0x45}))
	want["unknown_tunnel"] = 1
	check("unknown tunnel data drop")
	p.send(unknownTID, 0, NewMessage(MsgHello))
	want["unknown_tunnel"] = 2
	check("unknown tunnel drops")

	raw(data(info.TunnelID, info.SessionID+1, false, 0, ProtoIPv4, []byte{0x45}))
	want["unknown_session"] = 1
	check("unknown session drop")

	// A control message far beyond the window of the LNS's tunnel (its
	// peer is the LAC's address and port; the raw peer shares the
	// address, and the LNS follows a new source port, RFC 2661 §8.1).
	p.ns = 1000
	p.send(info.TunnelID, 0, NewMessage(MsgHello))
	want["out_of_window"] = 1
	check("out-of-window drop")

	// Sequenced data: Ns 5, then the late Ns 4.
	raw(data(info.TunnelID, info.SessionID, true, 5, ProtoLCP, []byte{9, 1, 0, 8, 0, 0, 0, 0}))
	raw(data(info.TunnelID, info.SessionID, true, 4, ProtoLCP, []byte{9, 1, 0, 8, 0, 0, 0, 0}))
	want["late_data"] = 1
	check("late data drop")
	if got := lnsCall.Stats().RxDropped; got != 2 {
		t.Errorf("call RxDropped = %d, want 2 (cut PPP frame, late data)", got)
	}
	got := lns.Drops()
	if !maps.Equal(got, want) {
		t.Errorf("drops = %v, want %v", got, want)
	}
	_ = lacCall
}

// TestLNSDataBehindICCN: a LAC's first LCP frame follows its ICCN at once;
// while the loop is busy (here: blocked) the ICCN is still queued when the
// frame is read. The frame is delivered once the call is established, not
// dropped as for an unknown session.
func TestLNSDataBehindICCN(t *testing.T) {
	lns, lnsH, p, tid, sid := offeredCall(t)

	release := make(chan struct{})
	if err := lns.do(func() { <-release }); err != nil {
		t.Fatal(err)
	}
	p.send(tid, sid, NewMessage(MsgICCN).AddUint32(AVPTxConnectSpeed, 1e6).AddUint32(AVPFramingType, FramingSync))
	lcp := []byte{1, 1, 0, 4} // Configure-Request, no options
	h := Header{TunnelID: tid, SessionID: sid}
	if _, err := p.c.WriteToUDP(AppendData(nil, &h, ProtoLCP, lcp), p.to); err != nil {
		t.Fatal(err)
	}
	// Let the reader see the frame while the ICCN waits (the old reader
	// gave up after 20 ms); the outcome does not depend on this pause.
	time.Sleep(100 * time.Millisecond)
	close(release)
	c := recv(t, lnsH.up, "NewCall")
	d := recv(t, lnsH.data, "the LCP frame")
	if d.c != c || d.proto != ProtoLCP || !bytes.Equal(d.payload, lcp) {
		t.Fatalf("data %#04x % x on %p, want LCP % x on %p", d.proto, d.payload, d.c, lcp, c)
	}
	if got := lns.Drops()["unknown_session"]; got != 0 {
		t.Errorf("unknown_session drops = %d, want 0", got)
	}
}

// offeredCall starts an LNS and, from a raw peer, a tunnel and an incoming
// call up to the ICRP: the session waits for the ICCN. It returns the
// peer and the LNS's tunnel and session IDs.
func offeredCall(t *testing.T) (*LNS, *recHandler, *rawPeer, uint16, uint16) {
	t.Helper()
	lnsH := newRecHandler()
	lns, err := NewLNS(Config{Addr: "127.0.0.1:0", Handler: lnsH})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, lns.Serve)
	p := newRawPeer(t, lns.Addr())
	p.send(0, 0, NewMessage(MsgSCCRQ).Add(AVPProtocolVersion, []byte{1, 0}).Add(AVPHostName, []byte("raw")).
		AddUint32(AVPFramingCapabilities, 1).AddUint16(AVPAssignedTunnelID, 1))
	_, rp := p.expect(MsgSCCRP)
	tid, _ := rp.Uint16(AVPAssignedTunnelID)
	p.send(tid, 0, NewMessage(MsgSCCCN))
	p.send(tid, 0, NewMessage(MsgICRQ).AddUint16(AVPAssignedSessionID, 5).AddUint32(AVPCallSerialNumber, 1))
	_, icrp := p.expect(MsgICRP)
	sid, _ := icrp.Uint16(AVPAssignedSessionID)
	return lns, lnsH, p, tid, sid
}

// TestLNSDataBeforeICCN: the LAC's first LCP frames overtake its ICCN
// (still in its send queue, or reordered): the LNS holds them while the
// session waits for ICCN and delivers them, in order, once it is up.
func TestLNSDataBeforeICCN(t *testing.T) {
	lns, lnsH, p, tid, sid := offeredCall(t)
	h := Header{TunnelID: tid, SessionID: sid}
	for id := byte(1); id <= 2; id++ {
		if _, err := p.c.WriteToUDP(AppendData(nil, &h, ProtoLCP, []byte{1, id, 0, 4}), p.to); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "frames held", func() bool {
		var n int
		_ = lns.call(func() {
			for _, te := range lns.tunnels {
				n += len(te.early[sid])
			}
		})
		return n == 2
	})
	p.send(tid, sid, NewMessage(MsgICCN).AddUint32(AVPTxConnectSpeed, 1e6).AddUint32(AVPFramingType, FramingSync))
	c := recv(t, lnsH.up, "NewCall")
	for id := byte(1); id <= 2; id++ {
		d := recv(t, lnsH.data, "an LCP frame")
		if d.c != c || d.proto != ProtoLCP || !bytes.Equal(d.payload, []byte{1, id, 0, 4}) {
			t.Fatalf("data %#04x % x, want LCP Configure-Request ID %d", d.proto, d.payload, id)
		}
	}
	// A frame for a session that was never offered is dropped.
	h.SessionID = sid + 1
	if _, err := p.c.WriteToUDP(AppendData(nil, &h, ProtoLCP, []byte{1, 9, 0, 4}), p.to); err != nil {
		t.Fatal(err)
	}
	eventually(t, "unknown session drop", func() bool { return lns.Drops()["unknown_session"] == 1 })
}
