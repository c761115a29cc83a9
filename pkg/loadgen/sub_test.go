package loadgen

import (
	"encoding/binary"
	"io"
	"os"
	"testing"

	"github.com/bngbox/bngbox/pkg/ppp"
	"github.com/bngbox/bngbox/pppoe"
)

func TestTUNName(t *testing.T) {
	if got := TUNName(12); got != "lg12" {
		t.Errorf("TUNName(12) = %q", got)
	}
}

// TestTUNFastPath: TCP and UDP of the session go straight to the TUN;
// ICMP (answered and counted by the subscriber), IPv6, other protocols,
// short packets and frames of another session do not.
func TestTUNFastPath(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	tl := &tunLink{g: &Gen{}, f: w, sid: 7}
	ip := func(proto byte) []byte {
		p := make([]byte, 28)
		p[0], p[9] = 0x45, proto
		return p
	}
	for _, c := range []struct {
		name  string
		proto uint16
		ip    []byte
		want  bool
	}{
		{"tcp", ppp.ProtoIPv4, ip(6), true},
		{"udp", ppp.ProtoIPv4, ip(17), true},
		{"icmp", ppp.ProtoIPv4, ip(1), false},
		{"short", ppp.ProtoIPv4, ip(6)[:19], false},
		{"ipv6", ppp.ProtoIPv6, append([]byte{0x60}, make([]byte, 39)...), false},
		{"lcp", ppp.ProtoLCP, ip(6), false},
	} {
		if got := tl.fastPath(c.proto, c.ip); got != c.want {
			t.Errorf("%s: fastPath = %v, want %v", c.name, got, c.want)
		}
	}
	// Only the two accepted packets reached the device.
	w.Close()
	b, _ := io.ReadAll(r)
	if len(b) != 2*28 {
		t.Errorf("%d bytes written to the TUN, want 56", len(b))
	}

	frame := func(sid uint16) []byte {
		f := append(make([]byte, 12), 0x88, 0x64)
		f = pppoe.AppendHeader(f, pppoe.Header{SessionID: sid, Length: 2 + 28})
		f = binary.BigEndian.AppendUint16(f, ppp.ProtoIPv4)
		return append(f, ip(6)...)
	}
	r2, w2, _ := os.Pipe()
	defer r2.Close()
	tl.f = w2
	if tl.fastPathFrame(frame(8)) {
		t.Error("a frame of session 8 took session 7's fast path")
	}
	if !tl.fastPathFrame(frame(7)) {
		t.Error("a TCP frame of the session did not take the fast path")
	}
	w2.Close()
}
