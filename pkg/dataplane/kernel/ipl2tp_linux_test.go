package kernel

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/genetlink/genltest"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// nla is one netlink attribute as the kernel reads it: length, type
// (host order), value, padding to 4 bytes.
func nla(typ uint16, v ...byte) []byte {
	n := 4 + len(v)
	b := []byte{byte(n), byte(n >> 8), byte(typ), byte(typ >> 8)}
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func u32(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }
func u16(v uint16) []byte { return []byte{byte(v), byte(v >> 8)} }

func TestL2TPGenlRequests(t *testing.T) {
	fam := genetlink.Family{ID: 0x1d, Version: 1, Name: "l2tp"}
	type req struct {
		cmd   uint8
		flags netlink.HeaderFlags
		data  []byte
	}
	var got []req
	reply := func(greq genetlink.Message, nreq netlink.Message) ([]genetlink.Message, error) {
		if nreq.Header.Type == 0 {
			return nil, nil // nltest's call for a Receive: nothing more to say
		}
		if nreq.Header.Type != netlink.HeaderType(fam.ID) || greq.Header.Version != fam.Version {
			t.Errorf("request to family %d version %d, want %d/%d", nreq.Header.Type, greq.Header.Version, fam.ID, fam.Version)
		}
		got = append(got, req{greq.Header.Command, nreq.Header.Flags, greq.Data})
		if greq.Header.Command == l2tpCmdSessionDelete && bytes.Contains(greq.Data, nla(l2tpAttrSessionID, u32(404)...)) {
			return nil, genltest.Error(int(unix.ENOENT))
		}
		if greq.Header.Command == l2tpCmdTunnelDelete && bytes.Contains(greq.Data, nla(l2tpAttrConnID, u32(500)...)) {
			return nil, genltest.Error(int(unix.EPERM))
		}
		return nil, nil
	}
	g, err := newL2TPGenl(genltest.Dial(genltest.ServeFamily(fam, reply)))
	if err != nil {
		t.Fatal(err)
	}
	defer g.close()

	if err := g.createTunnel(l2tpTunnelReq{ID: 0x1234, PeerID: 7, FD: 9}); err != nil {
		t.Fatal(err)
	}
	if err := g.createSession(l2tpSessionReq{TunnelID: 0x1234, ID: 0xabcd, PeerID: 3, Seq: true}); err != nil {
		t.Fatal(err)
	}
	if err := g.deleteSession(0x1234, 0xabcd); err != nil {
		t.Fatal(err)
	}
	if err := g.deleteSession(0x1234, 404); err != nil {
		t.Errorf("deleting a session already gone: %v, want nil", err)
	}
	if err := g.deleteTunnel(0x1234); err != nil {
		t.Fatal(err)
	}
	if err := g.deleteTunnel(500); !errors.Is(err, unix.EPERM) {
		t.Errorf("tunnel delete refused: err %v, want EPERM", err)
	}

	flat := func(segs ...[]byte) []byte { return bytes.Join(segs, nil) }
	want := []req{
		{l2tpCmdTunnelCreate, 0, flat(
			nla(l2tpAttrConnID, u32(0x1234)...),
			nla(l2tpAttrPeerConnID, u32(7)...),
			nla(l2tpAttrProtoVersion, 2),
			nla(l2tpAttrEncapType, u16(l2tpEncapUDP)...),
			nla(l2tpAttrFD, u32(9)...),
		)},
		{l2tpCmdSessionCreate, 0, flat(
			nla(l2tpAttrConnID, u32(0x1234)...),
			nla(l2tpAttrSessionID, u32(0xabcd)...),
			nla(l2tpAttrPeerSessionID, u32(3)...),
			nla(l2tpAttrPWType, u16(l2tpPWTypePPP)...),
			nla(l2tpAttrLNSMode, 1),
			nla(l2tpAttrRecvSeq, 1),
			nla(l2tpAttrSendSeq, 1),
		)},
		{l2tpCmdSessionDelete, 0, flat(nla(l2tpAttrConnID, u32(0x1234)...), nla(l2tpAttrSessionID, u32(0xabcd)...))},
		{l2tpCmdSessionDelete, 0, flat(nla(l2tpAttrConnID, u32(0x1234)...), nla(l2tpAttrSessionID, u32(404)...))},
		{l2tpCmdTunnelDelete, 0, nla(l2tpAttrConnID, u32(0x1234)...)},
		{l2tpCmdTunnelDelete, 0, nla(l2tpAttrConnID, u32(500)...)},
	}
	if len(got) != len(want) {
		t.Fatalf("%d requests, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].cmd != want[i].cmd {
			t.Errorf("request %d: cmd %d, want %d", i, got[i].cmd, want[i].cmd)
		}
		if f := got[i].flags; f&netlink.Request == 0 || f&netlink.Acknowledge == 0 {
			t.Errorf("request %d: flags %v, want request|acknowledge", i, f)
		}
		if !bytes.Equal(got[i].data, want[i].data) {
			t.Errorf("request %d (cmd %d) attributes:\n got % x\nwant % x", i, want[i].cmd, got[i].data, want[i].data)
		}
	}
}

func TestL2TPGenlFamilyMissing(t *testing.T) {
	c := genltest.Dial(func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
		return nil, genltest.Error(int(unix.ENOENT))
	})
	_, err := newL2TPGenl(c)
	if err == nil || !strings.Contains(err.Error(), "l2tp_ppp/l2tp_netlink not available") {
		t.Fatalf("err = %v, want it to name l2tp_ppp/l2tp_netlink", err)
	}
}

// TestOpenL2TPHere runs the real probe: on a kernel without the modules
// (the dev machines) it must fail naming them.
func TestOpenL2TPHere(t *testing.T) {
	g, err := openL2TP()
	if err == nil {
		g.close()
		t.Skip("this kernel has l2tp_netlink and l2tp_ppp")
	}
	if !strings.Contains(err.Error(), errL2TPMissing) {
		t.Errorf("err = %v, want it to say %q", err, errL2TPMissing)
	}
}

func TestMarshalSockaddrPPPoL2TP(t *testing.T) {
	got, err := marshalSockaddrPPPoL2TP(pppol2tpAddr{FD: 7, Peer: netip.MustParseAddrPort("192.0.2.10:1701"),
		Tunnel: 0x1234, Session: 0x5678, PeerTunnel: 0x9a, PeerSID: 0xbc})
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Join([][]byte{
		{24, 0},                  // sa_family AF_PPPOX (little-endian host)
		{1, 0, 0, 0},             // sa_protocol PX_PROTO_OL2TP
		{0, 0, 0, 0},             // pid 0: the caller
		{7, 0, 0, 0},             // fd
		{2, 0},                   // sin_family AF_INET
		{0x06, 0xa5},             // sin_port 1701, network order
		{192, 0, 2, 10},          // sin_addr
		make([]byte, 8),          // sin_zero
		{0x34, 0x12, 0x78, 0x56}, // s_tunnel, s_session (host order)
		{0x9a, 0, 0xbc, 0},       // d_tunnel, d_session
	}, nil)
	if !bytes.Equal(want, got[:]) {
		t.Errorf("sockaddr_pppol2tp:\n got % x\nwant % x", got[:], want)
	}
	for _, bad := range []pppol2tpAddr{
		{FD: 7, Peer: netip.MustParseAddrPort("[2001:db8::1]:1701")},
		{FD: -1, Peer: netip.MustParseAddrPort("192.0.2.10:1701")},
	} {
		if _, err := marshalSockaddrPPPoL2TP(bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}
