package pppoe

import (
	"bytes"
	"encoding/binary"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/bngbox/bngbox/internal/ether"
)

var (
	portMAC = net.HardwareAddr{0x02, 0xbb, 0, 0, 0, 0x01}
	cliMAC  = net.HardwareAddr{0x02, 0xcc, 0, 0, 0, 0x01}
	cliMAC2 = net.HardwareAddr{0x02, 0xcc, 0, 0, 0, 0x02}
	t0      = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
)

func baseConfig() Config {
	return Config{
		ACName:             "bng1",
		ServiceNames:       []string{"internet"},
		AcceptEmptyService: true,
		CookieSecret:       []byte("0123456789abcdef0123456789abcdef"),
	}
}

func newServer(t testing.TB, mod func(*Config)) *Server {
	t.Helper()
	c := baseConfig()
	if mod != nil {
		mod(&c)
	}
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// client builds frames as a subscriber would (what pkg/loadgen does).
type client struct {
	mac      net.HardwareAddr
	eh       ether.Header // tag stack to send with
	hostUniq []byte
	service  string
	extra    []Tag // appended to PADI and PADR
}

func newClient(mac net.HardwareAddr, vlans ...uint16) *client {
	c := &client{mac: mac, hostUniq: []byte{0xde, 0xad, 0xbe, 0xef}}
	if err := c.eh.SetVLANs(vlans); err != nil {
		panic(err)
	}
	return c
}

func (c *client) frame(dst net.HardwareAddr, p Packet) []byte {
	eh := c.eh
	eh.Dst, eh.Src, eh.EtherType = dst, c.mac, ether.TypePPPoEDiscover
	return p.Append(ether.AppendHeader(nil, eh))
}

func (c *client) padi() []byte {
	p := Packet{Code: CodePADI}
	p.Add(TagServiceName, []byte(c.service))
	if c.hostUniq != nil {
		p.Add(TagHostUniq, c.hostUniq)
	}
	p.Tags = append(p.Tags, c.extra...)
	return c.frame(broadcast, p)
}

// padr builds the PADR answering pado.
func (c *client) padr(t testing.TB, pado Packet) []byte {
	t.Helper()
	p := Packet{Code: CodePADR}
	p.Add(TagServiceName, []byte(c.service))
	if c.hostUniq != nil {
		p.Add(TagHostUniq, c.hostUniq)
	}
	if ck := pado.Cookie(); ck != nil {
		p.Add(TagACCookie, ck)
	}
	p.Tags = append(p.Tags, c.extra...)
	return c.frame(portMAC, p)
}

func (c *client) padt(sid uint16) []byte {
	return c.frame(portMAC, Packet{Code: CodePADT, SessionID: sid})
}

// decode parses a reply frame and checks it is well formed and addressed
// to the client with its tag stack.
func decode(t testing.TB, c *client, b []byte) (ether.Header, Packet) {
	t.Helper()
	if b == nil {
		t.Fatal("no reply")
	}
	if len(b) < minFrame {
		t.Fatalf("reply is %d bytes, shorter than an Ethernet frame", len(b))
	}
	eh, off, err := ether.Parse(b)
	if err != nil {
		t.Fatalf("reply: %v", err)
	}
	p, rest, err := Parse(b[off:])
	if err != nil || !allZero(rest) {
		t.Fatalf("reply: %v (rest %d)", err, len(rest))
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("reply %v invalid: %v", p.Code, err)
	}
	if !bytes.Equal(eh.Dst, c.mac) || !bytes.Equal(eh.Src, portMAC) || eh.EtherType != ether.TypePPPoEDiscover {
		t.Fatalf("reply addressed %v -> %v type %#x", eh.Src, eh.Dst, eh.EtherType)
	}
	if eh.NumVLANs != c.eh.NumVLANs || eh.VID != c.eh.VID || eh.PCP != c.eh.PCP {
		t.Fatalf("reply tags %v, want %v", eh.VLANs(), c.eh.VLANs())
	}
	for i := range c.eh.NumVLANs {
		if c.eh.TPID[i] != 0 && eh.TPID[i] != c.eh.TPID[i] {
			t.Fatalf("reply TPID[%d] = %#x, want %#x", i, eh.TPID[i], c.eh.TPID[i])
		}
	}
	return eh, p
}

// connect runs PADI → PADO → PADR → PADS and returns the session event.
func connect(t testing.TB, s *Server, port string, c *client, now time.Time) *NewSession {
	t.Helper()
	reply, ev := s.Handle(now, port, portMAC, c.padi())
	if ev != nil {
		t.Fatalf("PADI event %T", ev)
	}
	_, pado := decode(t, c, reply)
	if pado.Code != CodePADO {
		t.Fatalf("got %v, want PADO", pado.Code)
	}
	reply, ev = s.Handle(now, port, portMAC, c.padr(t, pado))
	_, pads := decode(t, c, reply)
	if pads.Code != CodePADS || pads.SessionID == 0 {
		t.Fatalf("got %v sid %#x, want PADS", pads.Code, pads.SessionID)
	}
	ns, ok := ev.(*NewSession)
	if !ok {
		t.Fatalf("PADR event %T, want *NewSession", ev)
	}
	if ns.SessionID != pads.SessionID {
		t.Fatalf("event sid %#x, PADS sid %#x", ns.SessionID, pads.SessionID)
	}
	return ns
}

func mustTags(t testing.TB, p Packet, want []Tag) {
	t.Helper()
	if !reflect.DeepEqual(p.Tags, want) {
		t.Fatalf("%v tags (-want +got):\n- %v\n+ %v", p.Code, want, p.Tags)
	}
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

// wantDrops checks that exactly the listed counters are non-zero.
func wantDrops(t testing.TB, s *Server, want map[string]uint64) {
	t.Helper()
	got := s.Drops()
	for k, v := range got {
		if v != want[k] {
			t.Errorf("drops[%q] = %d, want %d", k, v, want[k])
		}
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			t.Errorf("no drop reason %q", k)
		}
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
