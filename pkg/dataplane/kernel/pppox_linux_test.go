package kernel

import (
	"bytes"
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMarshalSockaddrPPPoE(t *testing.T) {
	mac, _ := net.ParseMAC("02:42:00:00:00:01")
	got, err := marshalSockaddrPPPoE(0x1234, mac, "eth0")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{
		{24, 0},        // sa_family AF_PPPOX (little-endian host)
		{0, 0, 0, 0},   // sa_protocol PX_PROTO_OE
		{0x12, 0x34},   // sid, network order
		mac,            // remote
		[]byte("eth0"), // dev, NUL-padded to 16
		make([]byte, 12),
	}
	var flat []byte
	for _, w := range want {
		flat = append(flat, w...)
	}
	if !bytes.Equal(flat, got[:]) {
		t.Errorf("sockaddr_pppox:\n got % x\nwant % x", got[:], flat)
	}
	for _, bad := range []struct {
		name string
		mac  net.HardwareAddr
		dev  string
	}{
		{"short mac", mac[:4], "eth0"},
		{"no dev", mac, ""},
		{"long dev", mac, "0123456789abcdef"},
	} {
		if _, err := marshalSockaddrPPPoE(1, bad.mac, bad.dev); err == nil {
			t.Errorf("%s: no error", bad.name)
		}
	}
}

func TestLinkLocalPair(t *testing.T) {
	a := linkLocalPair(0x0123456789abcdef, 0x2)
	if got := a.IPNet.String(); got != "fe80::123:4567:89ab:cdef/64" {
		t.Errorf("local %s", got)
	}
	if got := a.Peer.String(); got != "fe80::2/64" {
		t.Errorf("peer %s", got)
	}
	if a.Flags&unix.IFA_F_NODAD == 0 {
		t.Errorf("flags %#x: want IFA_F_NODAD", a.Flags)
	}
}
