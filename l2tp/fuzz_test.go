package l2tp

import (
	"bytes"
	"testing"
	"time"
)

// FuzzTunnelReceive feeds arbitrary control packets to an LNS tunnel (and
// to a LAC tunnel that has sent SCCRQ): nothing may panic, and every packet
// the tunnel sends must parse.
func FuzzTunnelReceive(f *testing.F) {
	seedLAC := NewTunnel(TunnelConfig{Role: RoleLAC, LocalID: 7, HostName: "lac", Secret: []byte("s")})
	e, _ := seedLAC.Open(t0)
	sccrq := e.Send[0]
	f.Add(sccrq)
	f.Add(bytes.Join([][]byte{sccrq, sccrq}, []byte{0xee, 0xee}))
	// SCCRQ, then an SCCCN without response, then ICRQ.
	cn := (&Header{Control: true, HasLength: true, HasSeq: true, TunnelID: 1, Ns: 1, Nr: 1}).Append(nil, 8)
	cn = append(cn, NewMessage(MsgSCCCN).Append(nil, nil)...)
	f.Add(bytes.Join([][]byte{sccrq, cn}, []byte{0xee, 0xee}))
	f.Fuzz(func(t *testing.T, data []byte) {
		lns := NewTunnel(TunnelConfig{Role: RoleLNS, LocalID: 1, HostName: "lns", Secret: []byte("s")})
		lac := NewTunnel(TunnelConfig{Role: RoleLAC, LocalID: 0x1234, HostName: "lac"})
		lac.Open(t0)
		now := t0
		for _, pkt := range bytes.Split(data, []byte{0xee, 0xee}) {
			for _, tn := range []*Tunnel{lns, lac} {
				h, body, err := ParseHeader(pkt)
				if err != nil || !h.Control {
					continue
				}
				e, _ := tn.Receive(now, &h, body)
				for _, out := range append(e.Send, tn.Tick(now.Add(time.Minute)).Send...) {
					if _, _, err := ParseHeader(out); err != nil {
						t.Fatalf("sent unparsable %x: %v", out, err)
					}
				}
			}
			now = now.Add(time.Second)
		}
	})
}
