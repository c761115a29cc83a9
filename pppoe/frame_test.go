package pppoe

import (
	"bytes"
	"errors"
	"testing"

	"github.com/bngbox/bngbox/internal/ether"
)

// TestClientFrames runs discovery with a client built only from the public
// codec (AppendFrame, ParseFrame, getters), as pkg/loadgen does.
func TestClientFrames(t *testing.T) {
	s := newServer(t, nil)
	var eh ether.Header
	eh.Dst, eh.Src = Broadcast, cliMAC
	if err := eh.SetVLANs([]uint16{100, 200}); err != nil {
		t.Fatal(err)
	}
	padi := Packet{Code: CodePADI}
	padi.Add(TagServiceName, []byte("internet"))
	padi.Add(TagHostUniq, []byte("hu"))
	padi.Add(TagPPPMaxPayload, u16(1500))
	frame := AppendFrame(nil, eh, &padi)
	if len(frame) != minFrame {
		t.Fatalf("PADI frame %d bytes, want padded to %d", len(frame), minFrame)
	}

	reply, _ := s.Handle(t0, "eth1", portMAC, frame)
	reh, pado, err := ParseFrame(reply)
	if err != nil || pado.Validate() != nil || pado.Code != CodePADO {
		t.Fatalf("PADO: %v %v", err, pado.Validate())
	}
	if ac, _ := pado.ACName(); ac != "bng1" || !bytes.Equal(pado.HostUniq(), []byte("hu")) || pado.MaxPayload() != 1500 {
		t.Fatalf("PADO tags %+v", pado.Tags)
	}

	eh.Dst = reh.Src
	padr := Packet{Code: CodePADR}
	padr.Add(TagServiceName, []byte("internet"))
	padr.Add(TagHostUniq, []byte("hu"))
	padr.Add(TagACCookie, pado.Cookie())
	reply, ev := s.Handle(t0, "eth1", portMAC, AppendFrame(nil, eh, &padr))
	_, pads, err := ParseFrame(reply)
	if err != nil || pads.Validate() != nil || pads.Code != CodePADS || pads.SessionID == 0 {
		t.Fatalf("PADS: %+v %v", pads, err)
	}
	if ns := ev.(*NewSession); ns.SessionID != pads.SessionID || ns.ServiceName != "internet" {
		t.Fatalf("event %+v", ns)
	}

	if _, _, err := ParseFrame(append(bytes.Clone(reply[:12]), 0x88, 0x64, 0x11, 0, 0, 1, 0, 0)); !errors.Is(err, ErrEtherType) {
		t.Fatalf("ParseFrame(session frame) err = %v", err)
	}
	if _, _, err := ParseFrame(reply[:10]); !errors.Is(err, ether.ErrShort) {
		t.Fatalf("ParseFrame(short) err = %v", err)
	}
}
