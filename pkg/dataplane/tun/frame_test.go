package tun

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

var (
	peerMAC = []byte{0x02, 0, 0, 0, 0, 0x01}
	bngMAC  = []byte{0x02, 0, 0, 0, 0, 0x02}
)

// buildSession builds a PPPoE session frame from the subscriber by hand,
// field by field.
func buildSession(tags [][2]uint16, sid, proto uint16, payload []byte) []byte {
	b := append([]byte{}, bngMAC...)
	b = append(b, peerMAC...)
	for _, tg := range tags {
		b = binary.BigEndian.AppendUint16(b, tg[0])
		b = binary.BigEndian.AppendUint16(b, tg[1])
	}
	b = append(b, 0x88, 0x64, 0x11, 0x00)
	b = binary.BigEndian.AppendUint16(b, sid)
	b = binary.BigEndian.AppendUint16(b, uint16(len(payload)+2))
	b = binary.BigEndian.AppendUint16(b, proto)
	return append(b, payload...)
}

func TestParseSession(t *testing.T) {
	ip := []byte{0x45, 0, 0, 20}
	tests := []struct {
		name    string
		frame   []byte
		wantErr error
		vlans   []uint16
		sid     uint16
		proto   uint16
		payload []byte
	}{
		{name: "untagged ipv4", frame: buildSession(nil, 7, ProtoIPv4, ip), sid: 7, proto: ProtoIPv4, payload: ip},
		{name: "dot1q lcp", frame: buildSession([][2]uint16{{0x8100, 0x2064}}, 0x1234, 0xc021, []byte{1, 2, 0, 4}),
			vlans: []uint16{0x064}, sid: 0x1234, proto: 0xc021, payload: []byte{1, 2, 0, 4}},
		{name: "qinq ipv6", frame: buildSession([][2]uint16{{0x88a8, 100}, {0x8100, 200}}, 9, ProtoIPv6, []byte{0x60}),
			vlans: []uint16{100, 200}, sid: 9, proto: ProtoIPv6, payload: []byte{0x60}},
		{name: "padding ignored", frame: append(buildSession(nil, 7, ProtoIPv4, ip), 0, 0, 0, 0), sid: 7, proto: ProtoIPv4, payload: ip},
		{name: "compressed protocol", frame: func() []byte {
			f := buildSession(nil, 7, 0, nil)
			f = append(f[:len(f)-2], 0x21, 0x45)
			binary.BigEndian.PutUint16(f[18:], 2)
			return f
		}(), sid: 7, proto: 0x21, payload: []byte{0x45}},
		{name: "short ethernet", frame: bngMAC, wantErr: errShort},
		{name: "short tag", frame: append(append(append([]byte{}, bngMAC...), peerMAC...), 0x81, 0x00, 0), wantErr: errShort},
		{name: "three tags", frame: buildSession([][2]uint16{{0x88a8, 1}, {0x8100, 2}, {0x8100, 3}}, 1, ProtoIPv4, ip), wantErr: errTooManyTag},
		{name: "not pppoe", frame: append(append(append([]byte{}, bngMAC...), peerMAC...), 0x08, 0x00, 0x45), wantErr: errNotPPPoE},
		{name: "short pppoe", frame: buildSession(nil, 7, ProtoIPv4, nil)[:18], wantErr: errShort},
		{name: "bad version", frame: func() []byte { f := buildSession(nil, 7, ProtoIPv4, ip); f[14] = 0x21; return f }(), wantErr: errVersion},
		{name: "bad code", frame: func() []byte { f := buildSession(nil, 7, ProtoIPv4, ip); f[15] = 0x09; return f }(), wantErr: errCode},
		{name: "length too long", frame: func() []byte { f := buildSession(nil, 7, ProtoIPv4, ip); f[19] = 200; return f }(), wantErr: errLength},
		{name: "zero length", frame: func() []byte { f := buildSession(nil, 7, ProtoIPv4, ip); f[19] = 0; return f }(), wantErr: errProto},
		{name: "even protocol low byte", frame: buildSession(nil, 7, 0x0022, ip), wantErr: errProto},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f sessionFrame
			err := parseSession(tt.frame, &f)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got := f.Eth.VLANs[:f.Eth.NVLAN]; !equalU16(got, tt.vlans) {
				t.Errorf("vlans = %v, want %v", got, tt.vlans)
			}
			if f.SessionID != tt.sid || f.Proto != tt.proto {
				t.Errorf("sid, proto = %#x, %#x; want %#x, %#x", f.SessionID, f.Proto, tt.sid, tt.proto)
			}
			if !bytes.Equal(f.Payload, tt.payload) {
				t.Errorf("payload = % x, want % x", f.Payload, tt.payload)
			}
		})
	}
}

func equalU16(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEncapRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		vlans []uint16
		tpids []uint16
	}{
		{"untagged", nil, nil},
		{"dot1q", []uint16{100}, defaultTPIDs(1)},
		{"qinq", []uint16{100, 200}, defaultTPIDs(2)},
		{"qinq 8100/8100", []uint16{5, 6}, []uint16{0x8100, 0x8100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := sessionHeader(peerMAC, bngMAC, tt.vlans, tt.tpids, 0xbeef)
			ip := []byte{0x45, 0, 0, 5, 0xaa}
			buf := make([]byte, maxHdr+len(ip))
			copy(buf[maxHdr:], ip)
			frame := encap(buf, maxHdr, len(ip), hdr, ipProto(ip))

			want := append([]byte{}, peerMAC...)
			want = append(want, bngMAC...)
			for i, v := range tt.vlans {
				want = binary.BigEndian.AppendUint16(want, tt.tpids[i])
				want = binary.BigEndian.AppendUint16(want, v)
			}
			want = append(want, 0x88, 0x64, 0x11, 0x00, 0xbe, 0xef, 0x00, byte(len(ip)+2), 0x00, 0x21)
			want = append(want, ip...)
			if !bytes.Equal(frame, want) {
				t.Fatalf("frame\n got % x\nwant % x", frame, want)
			}
			var f sessionFrame
			if err := parseSession(frame, &f); err != nil {
				t.Fatal(err)
			}
			if f.SessionID != 0xbeef || f.Proto != ProtoIPv4 || !bytes.Equal(f.Payload, ip) ||
				!equalU16(f.Eth.VLANs[:f.Eth.NVLAN], tt.vlans) {
				t.Errorf("round trip: %+v", f)
			}
		})
	}
}

func TestIPProto(t *testing.T) {
	for _, tt := range []struct {
		pkt  []byte
		want uint16
	}{{nil, 0}, {[]byte{0x45}, ProtoIPv4}, {[]byte{0x60}, ProtoIPv6}, {[]byte{0x50}, 0}} {
		if got := ipProto(tt.pkt); got != tt.want {
			t.Errorf("ipProto(% x) = %#x, want %#x", tt.pkt, got, tt.want)
		}
	}
}

func TestFrameKey(t *testing.T) {
	frame := buildSession([][2]uint16{{0x8100, 0x3000 | 42}}, 77, ProtoIPv4, []byte{0x45})
	var f sessionFrame
	if err := parseSession(frame, &f); err != nil {
		t.Fatal(err)
	}
	if got, want := frameKey(frame, &f), keyOf(peerMAC, []uint16{42}, 77); got != want {
		t.Errorf("frameKey = %+v, want %+v (PCP bits must not matter)", got, want)
	}
	if keyOf(peerMAC, nil, 77) == keyOf(peerMAC, []uint16{0}, 77) {
		t.Error("untagged and VLAN 0 keys collide")
	}
}

func TestParseAllocs(t *testing.T) {
	frame := buildSession([][2]uint16{{0x88a8, 1}, {0x8100, 2}}, 7, ProtoIPv4, make([]byte, 100))
	var f sessionFrame
	n := testing.AllocsPerRun(100, func() {
		_ = parseSession(frame, &f)
		_ = frameKey(frame, &f)
	})
	if n != 0 {
		t.Errorf("parseSession allocates %v times", n)
	}
	hdr := sessionHeader(peerMAC, bngMAC, []uint16{1, 2}, defaultTPIDs(2), 7)
	buf := make([]byte, maxHdr+100)
	n = testing.AllocsPerRun(100, func() { _ = encap(buf, maxHdr, 100, hdr, ProtoIPv4) })
	if n != 0 {
		t.Errorf("encap allocates %v times", n)
	}
}

func TestHoldQueue(t *testing.T) {
	q := holdQueue{limit: 2}
	a := []byte{1}
	if !q.push(a) || !q.push([]byte{2}) {
		t.Fatal("push below limit failed")
	}
	if q.push([]byte{3}) {
		t.Error("push above limit succeeded")
	}
	a[0] = 9 // the queue must hold a copy
	got := q.drain()
	if len(got) != 2 || got[0][0] != 1 || got[1][0] != 2 {
		t.Errorf("drain = %v, want [[1] [2]]", got)
	}
	if q.len() != 0 {
		t.Errorf("len after drain = %d", q.len())
	}
}

func TestDropCounters(t *testing.T) {
	var d dropCounters
	d.add(dropUnknownSession)
	d.add(dropUnknownSession)
	d.add(parseDrop(errVersion))
	got := d.snapshot()
	if len(got) != 2 || got["unknown_session"] != 2 || got["bad_version"] != 1 {
		t.Errorf("snapshot = %v", got)
	}
	for i, n := range dropNames {
		if n == "" {
			t.Errorf("drop reason %d has no name", i)
		}
	}
}

func FuzzParseSession(f *testing.F) {
	f.Add(buildSession(nil, 7, ProtoIPv4, []byte{0x45, 0}))
	f.Add(buildSession([][2]uint16{{0x8100, 1}}, 7, 0xc021, []byte{1, 1, 0, 4}))
	f.Add(buildSession([][2]uint16{{0x88a8, 1}, {0x8100, 2}}, 7, ProtoIPv6, []byte{0x60}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var fr sessionFrame
		if err := parseSession(b, &fr); err != nil {
			return
		}
		if fr.Eth.NVLAN > maxTags || len(fr.Payload) > len(b) {
			t.Fatalf("bad decode %+v", fr)
		}
		if fr.Proto&0x0100 != 0 || fr.Proto&1 != 1 {
			t.Fatalf("accepted invalid protocol %#x", fr.Proto)
		}
		// Re-encode with 2-byte protocol and parse again: same result.
		vlans := fr.Eth.VLANs[:fr.Eth.NVLAN]
		hdr := sessionHeader(b[:6], b[6:12], vlans, defaultTPIDs(len(vlans)), fr.SessionID)
		buf := make([]byte, maxHdr+len(fr.Payload))
		copy(buf[maxHdr:], fr.Payload)
		out := encap(buf, maxHdr, len(fr.Payload), hdr, fr.Proto)
		var fr2 sessionFrame
		if err := parseSession(out, &fr2); err != nil {
			t.Fatalf("re-encoded frame does not parse: %v", err)
		}
		if fr2.SessionID != fr.SessionID || fr2.Proto != fr.Proto || !bytes.Equal(fr2.Payload, fr.Payload) ||
			fr2.Eth.VLANs != fr.Eth.VLANs || fr2.Eth.NVLAN != fr.Eth.NVLAN {
			t.Fatalf("round trip: %+v != %+v", fr2, fr)
		}
	})
}

// BenchmarkEncap is the downstream hot path minus the syscalls: classify
// the IP packet and build the PPPoE frame in place.
func BenchmarkEncap(b *testing.B) {
	hdr := sessionHeader(peerMAC, bngMAC, []uint16{100, 200}, defaultTPIDs(2), 7)
	buf := make([]byte, maxHdr+1400)
	buf[maxHdr] = 0x45
	b.ReportAllocs()
	b.SetBytes(1400)
	for b.Loop() {
		_ = encap(buf, maxHdr, 1400, hdr, ipProto(buf[maxHdr:]))
	}
}

// BenchmarkDemux is the upstream hot path minus the syscalls: parse a
// QinQ session frame and look its session up.
func BenchmarkDemux(b *testing.B) {
	frame := buildSession([][2]uint16{{0x88a8, 100}, {0x8100, 200}}, 7, ProtoIPv4, make([]byte, 1400))
	m := make(map[demuxKey]int)
	for i := range 10000 {
		m[keyOf(peerMAC, []uint16{100, 200}, uint16(i+1))] = i
	}
	var f sessionFrame
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if err := parseSession(frame, &f); err != nil {
			b.Fatal(err)
		}
		if _, ok := m[frameKey(frame, &f)]; !ok {
			b.Fatal("miss")
		}
	}
}

func TestUnitAlloc(t *testing.T) {
	var u unitAlloc
	for i := range 130 {
		if got := u.get(); got != i {
			t.Fatalf("get #%d = %d", i, got)
		}
	}
	u.put(70)
	u.put(3)
	if got := u.get(); got != 3 {
		t.Errorf("lowest free = %d, want 3", got)
	}
	if got := u.get(); got != 70 {
		t.Errorf("next free = %d, want 70", got)
	}
	if got := u.get(); got != 130 {
		t.Errorf("after refill = %d, want 130", got)
	}
}
