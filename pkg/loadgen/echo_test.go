package loadgen

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"
	"time"
)

var (
	inet = netip.MustParseAddr("198.51.100.2")
	subA = netip.MustParseAddr("100.64.0.7")
)

func TestEchoReply(t *testing.T) {
	req := ipv4Echo(inet, subA, 0x1234, 9)
	reply, ok := echoReply(req, subA)
	if !ok {
		t.Fatal("echo request to us not answered")
	}
	if checksum(reply[:20]) != 0 || checksum(reply[20:]) != 0 {
		t.Errorf("bad checksums in reply % x", reply)
	}
	if got := netip.AddrFrom4([4]byte(reply[12:16])); got != subA {
		t.Errorf("reply source %v, want %v", got, subA)
	}
	if got := netip.AddrFrom4([4]byte(reply[16:20])); got != inet {
		t.Errorf("reply destination %v, want %v", got, inet)
	}
	if seq, ok := echoReplySeq(reply, 0x1234); !ok || seq != 9 {
		t.Errorf("echoReplySeq = %d, %v; want 9, true", seq, ok)
	}
	if !bytes.Equal(reply[28:], req[28:]) {
		t.Error("reply payload differs from the request's")
	}
	if int(binary.BigEndian.Uint16(reply[2:])) != len(reply) || len(reply) != len(req) {
		t.Errorf("reply length %d (total %d), request %d", len(reply), binary.BigEndian.Uint16(reply[2:]), len(req))
	}
	if req[20] != icmpEchoRequest {
		t.Error("echoReply modified the request")
	}
}

func TestEchoReplyWithOptions(t *testing.T) {
	plain := ipv4Echo(inet, subA, 1, 1)
	// Same packet with a 4-byte IP option (NOP NOP NOP EOL): IHL 6.
	req := append(append(slices.Clone(plain[:20]), 1, 1, 1, 0), plain[20:]...)
	req[0] = 0x46
	binary.BigEndian.PutUint16(req[2:], uint16(len(req)))
	req[10], req[11] = 0, 0
	binary.BigEndian.PutUint16(req[10:], checksum(req[:24]))
	reply, ok := echoReply(req, subA)
	if !ok {
		t.Fatal("request with IP options not answered")
	}
	if reply[0] != 0x45 || len(reply) != len(plain) || checksum(reply[20:]) != 0 {
		t.Errorf("reply % x", reply)
	}
}

func TestEchoReplyIgnores(t *testing.T) {
	other := netip.MustParseAddr("100.64.0.8")
	tests := []struct {
		name string
		pkt  func() []byte
	}{
		{"empty", func() []byte { return nil }},
		{"short", func() []byte { return ipv4Echo(inet, subA, 1, 1)[:24] }},
		{"other destination", func() []byte { return ipv4Echo(inet, other, 1, 1) }},
		{"echo reply", func() []byte {
			r, _ := echoReply(ipv4Echo(inet, subA, 1, 1), subA)
			return r
		}},
		{"bad ICMP checksum", func() []byte {
			p := ipv4Echo(inet, subA, 1, 1)
			p[30] ^= 0xff
			return p
		}},
		{"fragment", func() []byte {
			p := ipv4Echo(inet, subA, 1, 1)
			p[6] |= 0x20 // MF
			return p
		}},
		{"total length beyond packet", func() []byte {
			p := ipv4Echo(inet, subA, 1, 1)
			binary.BigEndian.PutUint16(p[2:], uint16(len(p)+1))
			return p
		}},
		{"not ICMP", func() []byte {
			p := ipv4Echo(inet, subA, 1, 1)
			p[9] = 17
			return p
		}},
		{"IPv6", func() []byte {
			p := ipv4Echo(inet, subA, 1, 1)
			p[0] = 0x60
			return p
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r, ok := echoReply(tt.pkt(), subA); ok {
				t.Errorf("answered with % x", r)
			}
		})
	}
}

func FuzzEchoReply(f *testing.F) {
	f.Add(ipv4Echo(inet, subA, 1, 1))
	f.Add(ipv4Echo(subA, inet, 7, 3))
	f.Fuzz(func(t *testing.T, p []byte) {
		r, ok := echoReply(p, subA)
		if !ok {
			return
		}
		if checksum(r[:20]) != 0 || checksum(r[20:]) != 0 || r[20] != icmpEchoReply {
			t.Fatalf("bad reply % x to % x", r, p)
		}
	})
}

func TestHoldPinger(t *testing.T) {
	base := time.Unix(1000, 0)
	h := newHoldPinger(42, 3, base)
	var seqs []uint16
	for i := range 6 { // two per second over seconds 0, 1, 2
		seqs = append(seqs, h.next(base.Add(time.Duration(i)*500*time.Millisecond)))
	}
	if seqs[0] != 4 || seqs[5] != 9 {
		t.Errorf("sequence numbers %v, want 4..9", seqs)
	}
	reply := func(id, seq uint16) []byte {
		r, _ := echoReply(ipv4Echo(subA, inet, id, seq), inet)
		return r
	}
	for _, seq := range []uint16{4, 5, 7} {
		if !h.reply(reply(42, seq)) {
			t.Errorf("reply %d not matched", seq)
		}
	}
	if h.reply(reply(42, 4)) {
		t.Error("duplicate reply counted")
	}
	if h.reply(reply(43, 6)) {
		t.Error("reply with another identifier counted")
	}
	if h.reply(ipv4Echo(subA, inet, 42, 6)) {
		t.Error("echo request counted as a reply")
	}
	lost := h.lost() // seq 6 (second 1), 8 and 9 (second 2)
	if lost[0] != 0 || lost[1] != 1 || lost[2] != 2 {
		t.Errorf("lost by second %v, want map[1:1 2:2]", lost)
	}

	var ps pingStats
	ps.add(h.sent, lost)
	ps.add(map[int]int{2: 2, 5: 4}, map[int]int{5: 2})
	sent, lostN, wl, ws, at := ps.summary()
	if sent != 12 || lostN != 5 || wl != 2 || ws != 4 || at != 2*time.Second {
		t.Errorf("summary = sent %d lost %d worst %d/%d at %v; want 12 5 2/4 at 2s", sent, lostN, wl, ws, at)
	}
	var empty pingStats
	if s, l, wl, ws, at := empty.summary(); s|l|wl|ws != 0 || at != 0 {
		t.Errorf("empty summary = %d %d %d %d %v", s, l, wl, ws, at)
	}
}

func TestExpand(t *testing.T) {
	for _, tt := range []struct{ format, want string }{
		{"user%04d", "user0007"},
		{"user0021", "user0021"},
		{"pw-%d", "pw-7"},
		{"", ""},
	} {
		if got := expand(tt.format, 7); got != tt.want {
			t.Errorf("expand(%q, 7) = %q, want %q", tt.format, got, tt.want)
		}
	}
}
