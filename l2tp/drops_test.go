package l2tp

import (
	"context"
	"maps"
	"testing"
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
