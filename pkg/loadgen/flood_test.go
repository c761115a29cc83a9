package loadgen

import (
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/bngbox/bngbox/internal/ether"
	"github.com/bngbox/bngbox/pppoe"
)

func TestPADIFrame(t *testing.T) {
	for _, vlans := range [][]uint16{nil, {100}, {10, 200}} {
		src := net.HardwareAddr{2, 0, 0, 0, 0, 1}
		f, off := padiFrame(src, vlans)
		rng := rand.New(rand.NewPCG(1, 2))
		randomMAC(f[off:off+6], rng)
		h, po, err := ether.Parse(f)
		if err != nil {
			t.Fatalf("vlans %v: %v", vlans, err)
		}
		if h.Dst.String() != "ff:ff:ff:ff:ff:ff" || h.EtherType != 0x8863 || int(h.NumVLANs) != len(vlans) {
			t.Errorf("vlans %v: header %+v", vlans, h)
		}
		if h.Src[0]&1 != 0 || h.Src[0]&2 == 0 || h.Src.String() == src.String() {
			t.Errorf("source %v: want a fresh locally administered unicast MAC", h.Src)
		}
		p, _, err := pppoe.Parse(f[po:])
		if err != nil || p.Code != pppoe.CodePADI || p.SessionID != 0 || p.Validate() != nil {
			t.Errorf("vlans %v: PADI %+v, %v", vlans, p, err)
		}
		if isPADO(f) {
			t.Error("PADI taken for a PADO")
		}
	}
}

func TestRandomMAC(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	seen := map[string]bool{}
	mac := make(net.HardwareAddr, 6)
	for range 1000 {
		randomMAC(mac, rng)
		if mac[0]&3 != 2 {
			t.Fatalf("%v is not locally administered unicast", mac)
		}
		seen[mac.String()] = true
	}
	if len(seen) < 999 {
		t.Errorf("only %d distinct MACs in 1000", len(seen))
	}
}

func TestFloodSchedule(t *testing.T) {
	tests := []struct {
		name           string
		elapsed        time.Duration
		rate           float64
		sent, burst, w int
	}{
		{"start", 0, 1000, 0, 64, 0},
		{"on time", 10 * time.Millisecond, 1000, 0, 64, 10},
		{"ahead", 10 * time.Millisecond, 1000, 20, 64, 0},
		{"behind, capped", time.Second, 1000, 0, 64, 64},
		{"partly sent", 50 * time.Millisecond, 10000, 480, 100, 20},
	}
	for _, tt := range tests {
		if got := floodSchedule(tt.elapsed, tt.rate, tt.sent, tt.burst); got != tt.w {
			t.Errorf("%s: floodSchedule = %d, want %d", tt.name, got, tt.w)
		}
	}
}

func TestIsPADO(t *testing.T) {
	pado := pppoe.Packet{Code: pppoe.CodePADO}
	pado.Add(pppoe.TagACName, []byte("ac"))
	var h ether.Header
	h.Dst, h.Src, h.EtherType = net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.HardwareAddr{2, 0, 0, 0, 0, 2}, 0x8863
	f := pado.Append(ether.AppendHeader(nil, h))
	if !isPADO(f) {
		t.Error("PADO not recognized")
	}
	if isPADO(f[:14]) || isPADO(nil) {
		t.Error("truncated frame taken for a PADO")
	}
}
