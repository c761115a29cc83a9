package pppoe

import (
	"encoding/binary"
	"net"
	"testing"
)

func TestHandlePADIAllocs(t *testing.T) {
	s := newServer(t, func(c *Config) { c.PADIRatePerMAC, c.PADIRateGlobal = 1e9, 1e9 })
	c := newClient(cliMAC, 100, 200)
	padi := c.padi()
	buf := make([]byte, 0, 1514)
	n := testing.AllocsPerRun(100, func() {
		reply, _ := s.HandleAppend(buf[:0], t0, "eth1", portMAC, padi)
		if reply == nil {
			t.Fatal("no PADO")
		}
	})
	if n != 0 {
		t.Fatalf("HandleAppend(PADI) allocates %v times, want 0", n)
	}
}

func BenchmarkHandlePADI(b *testing.B) {
	s := newServer(b, func(c *Config) { c.PADIRatePerMAC, c.PADIRateGlobal = 1e9, 1e9 })
	c := newClient(cliMAC, 100, 200)
	c.extra = []Tag{{TagPPPMaxPayload, u16(1500)}}
	padi := c.padi()
	b.Run("Handle", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if reply, _ := s.Handle(t0, "eth1", portMAC, padi); reply == nil {
				b.Fatal("no PADO")
			}
		}
	})
	b.Run("HandleAppend", func(b *testing.B) {
		buf := make([]byte, 0, 1514)
		b.ReportAllocs()
		for b.Loop() {
			if reply, _ := s.HandleAppend(buf[:0], t0, "eth1", portMAC, padi); reply == nil {
				b.Fatal("no PADO")
			}
		}
	})
	b.Run("ManyMACs", func(b *testing.B) { // per-MAC table churn
		buf := make([]byte, 0, 1514)
		frames := make([][]byte, 4096)
		for i := range frames {
			cl := newClient(net.HardwareAddr{2, 0, 0, 0, byte(i >> 8), byte(i)}, 100, 200)
			frames[i] = cl.padi()
		}
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			s.HandleAppend(buf[:0], t0, "eth1", portMAC, frames[i%len(frames)])
			i++
		}
	})
}

// BenchmarkHandlePADR measures PADR → PADS with a new session each time
// (and its Release, so the table stays small).
func BenchmarkHandlePADR(b *testing.B) {
	s := newServer(b, nil)
	c := newClient(cliMAC, 100, 200)
	c.hostUniq = nil
	c.extra = []Tag{{TagHostUniq, make([]byte, 4)}}
	reply, _ := s.Handle(t0, "eth1", portMAC, c.padi())
	_, pado := decode(b, c, reply)
	padr := c.padr(b, pado)
	// Host-Uniq is the last tag; vary it so every PADR is a new session.
	hu := len(padr) - 4
	buf := make([]byte, 0, 1514)
	b.Run("new", func(b *testing.B) {
		var n uint32
		b.ReportAllocs()
		for b.Loop() {
			n++
			binary.BigEndian.PutUint32(padr[hu:], n)
			_, ev := s.HandleAppend(buf[:0], t0, "eth1", portMAC, padr)
			ns, ok := ev.(*NewSession)
			if !ok {
				b.Fatalf("no session: %v", s.Drops())
			}
			s.Release("eth1", ns.SessionID)
		}
	})
	b.Run("duplicate", func(b *testing.B) {
		// The first PADR creates the session (or finds it, when the
		// benchmark function runs again); the loop only sees duplicates.
		if reply, _ := s.HandleAppend(buf[:0], t0, "eth1", portMAC, padr); reply == nil || s.Sessions() != 1 {
			b.Fatalf("no session: %v", s.Drops())
		}
		b.ReportAllocs()
		for b.Loop() {
			if reply, ev := s.HandleAppend(buf[:0], t0, "eth1", portMAC, padr); reply == nil || ev != nil {
				b.Fatal("not a duplicate")
			}
		}
	})
}
