package ppp

import (
	"net/netip"
	"testing"
	"time"
	"unsafe"
)

// wire is a minimal allocation-free harness: frames are copied into
// reusable per-direction queues.
type wire struct {
	buf   [2][]byte
	q     [2][]wframe
	auth  bool
	links [2]*Link
	np    NetParams
	ups   int
	now   time.Time
}

type wframe struct {
	proto      uint16
	start, end int
}

func (w *wire) push(from int, fx []Effect) {
	to := 1 - from
	for _, e := range fx {
		switch e.Kind {
		case EffectSend:
			s := len(w.buf[to])
			w.buf[to] = append(w.buf[to], e.Data...)
			w.q[to] = append(w.q[to], wframe{e.Proto, s, len(w.buf[to])})
		case EffectAuthRequest:
			w.auth = true
		case EffectUp:
			w.ups++
		}
	}
}

// run delivers until quiet. Queue buffers are only reset when drained, so
// frames never alias a Link's own output.
func (w *wire) run() {
	for {
		moved := false
		for i := range 2 {
			for k := 0; k < len(w.q[i]); k++ {
				f := w.q[i][k]
				w.push(i, w.links[i].Input(w.now, f.proto, w.buf[i][f.start:f.end]))
				moved = true
			}
			w.q[i], w.buf[i] = w.q[i][:0], w.buf[i][:0]
		}
		if w.auth {
			w.auth = false
			w.push(0, w.links[0].AuthResult(w.now, true, "", w.np))
			moved = true
		}
		if !moved {
			return
		}
	}
}

func BenchmarkNegotiate(b *testing.B) {
	scfg, ccfg := serverConfig(AuthCHAP), clientConfig(AuthCHAP)
	scfg.Rand, ccfg.Rand = seeded(1), seeded(2)
	w := &wire{now: t0, np: NetParams{PeerIP: peerIP, DNS: [2]netip.Addr{dns1, dns2}}}
	b.ReportAllocs()
	for b.Loop() {
		w.links = [2]*Link{New(scfg), New(ccfg)}
		w.ups = 0
		w.push(0, w.links[0].Open(w.now))
		w.push(1, w.links[1].Open(w.now))
		w.run()
		if w.ups != 4 {
			b.Fatalf("ups %d", w.ups)
		}
	}
	l := w.links[0]
	b.ReportMetric(float64(unsafe.Sizeof(*l)), "B/Link")
	b.ReportMetric(float64(cap(l.out)+cap(l.fx)*int(unsafe.Sizeof(Effect{}))), "B/buffers")
}

// BenchmarkEcho is one keepalive round: the server's Tick sends an
// Echo-Request, the client answers, the server records the RTT.
func BenchmarkEcho(b *testing.B) {
	scfg, ccfg := serverConfig(AuthPAP), clientConfig(AuthPAP)
	scfg.EchoInterval = time.Second
	w := &wire{now: t0, np: NetParams{PeerIP: peerIP}}
	w.links = [2]*Link{New(scfg), New(ccfg)}
	w.push(0, w.links[0].Open(w.now))
	w.push(1, w.links[1].Open(w.now))
	w.run()
	s := w.links[0]
	b.ReportAllocs()
	for b.Loop() {
		w.now = s.NextDeadline()
		w.push(0, s.Tick(w.now))
		w.run()
	}
	if st := s.Stats(); st.EchoReplies == 0 || st.EchoLost != 0 {
		b.Fatalf("stats %+v", st)
	}
}

func TestEchoAllocs(t *testing.T) {
	scfg, ccfg := serverConfig(AuthPAP), clientConfig(AuthPAP)
	scfg.EchoInterval = time.Second
	w := &wire{now: t0, np: NetParams{PeerIP: peerIP}}
	w.links = [2]*Link{New(scfg), New(ccfg)}
	w.push(0, w.links[0].Open(w.now))
	w.push(1, w.links[1].Open(w.now))
	w.run()
	s := w.links[0]
	if w.ups != 4 {
		t.Fatalf("ups %d", w.ups)
	}
	n := testing.AllocsPerRun(100, func() {
		w.now = s.NextDeadline()
		w.push(0, s.Tick(w.now))
		w.run()
	})
	if n != 0 {
		t.Errorf("echo round allocates %v times", n)
	}
	t.Logf("sizeof(Link) = %d, Effect = %d, buffers after negotiation = %d+%d effects",
		unsafe.Sizeof(*s), unsafe.Sizeof(Effect{}), cap(s.out), cap(s.fx))
}
