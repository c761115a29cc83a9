package pppoe

import (
	"testing"
	"time"

	"github.com/bngbox/bngbox/internal/ether"
)

// FuzzHandle feeds arbitrary frames to a server (after a real session has
// been set up, so PADT and duplicate PADR paths are reachable). It checks
// that Handle never panics and that every reply is a valid discovery frame.
func FuzzHandle(f *testing.F) {
	c := newClient(cliMAC, 100, 200)
	c.extra = []Tag{{TagRelaySessionID, []byte("r")}, {TagPPPMaxPayload, u16(1500)}}
	seedSrv := newServer(f, nil)
	reply, _ := seedSrv.Handle(t0, "eth1", portMAC, c.padi())
	_, pado := decode(f, c, reply)
	f.Add(c.padi(), int64(0))
	f.Add(c.padr(f, pado), int64(time.Second))
	f.Add(c.padt(1), int64(0))
	f.Add(newClient(cliMAC).padi(), int64(0))
	f.Fuzz(func(t *testing.T, frame []byte, dt int64) {
		s := newServer(t, func(cf *Config) { cf.MaxSessions = 4; cf.PADIRatePerMAC = 100 })
		connect(t, s, "eth1", c, t0)
		reply, ev := s.Handle(t0.Add(time.Duration(dt)), "eth1", portMAC, frame)
		if reply == nil {
			return
		}
		eh, off, err := ether.Parse(reply)
		if err != nil {
			t.Fatalf("reply: %v", err)
		}
		p, rest, err := Parse(reply[off:])
		if err != nil || !allZero(rest) {
			t.Fatalf("reply: %v", err)
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("reply %v: %v", p.Code, err)
		}
		in, _, _ := ether.Parse(frame)
		if string(eh.Dst) != string(in.Src) || eh.VID != in.VID || eh.NumVLANs != in.NumVLANs {
			t.Fatalf("reply to %v tags %v, request from %v tags %v", eh.Dst, eh.VLANs(), in.Src, in.VLANs())
		}
		if ns, ok := ev.(*NewSession); ok && ns.SessionID != p.SessionID {
			t.Fatalf("event sid %#x, PADS sid %#x", ns.SessionID, p.SessionID)
		}
	})
}

func FuzzParseVLANSet(f *testing.F) {
	for _, s := range []string{"untagged", "100-199", "100.200-299", "*", "7.*", "4096", "1-", "1.2.3"} {
		f.Add(s, uint16(100), uint16(250))
	}
	f.Fuzz(func(t *testing.T, spec string, a, b uint16) {
		s, err := ParseVLANSet(spec)
		if err != nil {
			return
		}
		s.Contains(nil)
		s.Contains([]uint16{a})
		s.Contains([]uint16{a, b})
		s.Contains([]uint16{a, b, a})
	})
}
