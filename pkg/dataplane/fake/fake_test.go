package fake

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/bngbox/bngbox/pkg/dataplane"
)

func TestFake(t *testing.T) {
	d := New()
	var gotDisc []byte
	p, err := d.OpenPort("eth1", func(_ dataplane.Port, f []byte) { gotDisc = f })
	if err != nil {
		t.Fatal(err)
	}
	p.(*Port).InjectDiscovery([]byte{1, 2, 3})
	if !bytes.Equal(gotDisc, []byte{1, 2, 3}) {
		t.Errorf("discovery = %v", gotDisc)
	}
	var ctl []uint16
	peer := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	params := dataplane.PPPoEParams{Port: p, Peer: peer, VLANs: []uint16{10}, SessionID: 5,
		Control: func(proto uint16, _ []byte) { ctl = append(ctl, proto) }}
	ds, err := d.NewPPPoESession(params)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.NewPPPoESession(params); err == nil {
		t.Error("duplicate session accepted")
	}
	s := d.Session(5)
	if s == nil || s != ds {
		t.Fatal("Session(5) did not return the session")
	}
	if !s.InjectControl(0xc021, []byte{1}) || len(ctl) != 1 || ctl[0] != 0xc021 {
		t.Errorf("control = %v", ctl)
	}
	if err := ds.SendControl(0xc021, []byte{9}); err != nil {
		t.Fatal(err)
	}
	if sent := s.Sent(); len(sent) != 1 || sent[0].Proto != 0xc021 || sent[0].Payload[0] != 9 {
		t.Errorf("sent = %v", sent)
	}
	if ds.Interface() != "" {
		t.Error("interface before Up")
	}
	cfg := dataplane.LinkConfig{LocalIP: netip.MustParseAddr("10.0.0.1"), PeerIP: netip.MustParseAddr("10.0.0.2"), MTU: 1492}
	if err := ds.Up(cfg); err != nil {
		t.Fatal(err)
	}
	if ds.Interface() != "ppp0" || len(s.Ups()) != 1 || s.Ups()[0] != cfg {
		t.Errorf("after Up: iface %q ups %v", ds.Interface(), s.Ups())
	}
	boom := errors.New("boom")
	s.FailUp(boom)
	if err := ds.Up(cfg); !errors.Is(err, boom) {
		t.Errorf("Up = %v, want boom", err)
	}
	s.SetStats(dataplane.Stats{RxBytes: 1 << 40})
	if ds.Stats().RxBytes != 1<<40 {
		t.Error("stats not returned")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if !s.Closed() || s.CloseCalls() != 1 {
		t.Error("Close did not close the session")
	}
	if err := ds.SendControl(0xc021, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("SendControl after close = %v", err)
	}
	if s.InjectControl(0xc021, nil) {
		t.Error("control injected into closed session")
	}
}

type nullCall struct{}

func (nullCall) SendPPP(uint16, []byte) error     { return nil }
func (nullCall) SetIPWriter(func(uint16, []byte)) {}

func TestL2TPSession(t *testing.T) {
	d := New()
	if _, err := d.NewL2TPSession(dataplane.L2TPParams{}); err == nil {
		t.Fatal("session without a call accepted")
	}
	ds, err := d.NewL2TPSession(dataplane.L2TPParams{Call: nullCall{}, TunnelID: 3, SessionID: 9})
	if err != nil {
		t.Fatal(err)
	}
	s := ds.(*Session)
	if p, ok := s.L2TPParams(); !ok || p.SessionID != 9 {
		t.Fatalf("L2TPParams = %+v, %v", p, ok)
	}
	if err := s.SendControl(0xc021, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	if got := s.Sent(); len(got) != 1 || got[0].Proto != 0xc021 {
		t.Fatalf("Sent = %v", got)
	}
	d.Close()
	if !s.Closed() {
		t.Fatal("Close did not close the L2TP session")
	}
}
