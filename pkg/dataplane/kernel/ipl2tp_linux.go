package kernel

import (
	"errors"
	"fmt"
	"sync"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The kernel's "l2tp" generic-netlink family (module l2tp_netlink), from
// linux/l2tp.h. Named after iproute2's ip/ipl2tp.c, which speaks it too.
const (
	l2tpGenlName = "l2tp"

	l2tpCmdTunnelCreate  = 1
	l2tpCmdTunnelDelete  = 2
	l2tpCmdSessionCreate = 5
	l2tpCmdSessionDelete = 6

	l2tpAttrPWType        = 1  // u16, l2tpPWType*
	l2tpAttrEncapType     = 2  // u16, l2tpEncap*
	l2tpAttrProtoVersion  = 7  // u8
	l2tpAttrConnID        = 9  // u32: tunnel ID
	l2tpAttrPeerConnID    = 10 // u32
	l2tpAttrSessionID     = 11 // u32
	l2tpAttrPeerSessionID = 12 // u32
	l2tpAttrRecvSeq       = 18 // u8
	l2tpAttrSendSeq       = 19 // u8
	l2tpAttrLNSMode       = 20 // u8
	l2tpAttrFD            = 23 // u32: the tunnel's UDP socket

	l2tpPWTypePPP = 7
	l2tpEncapUDP  = 0
)

// l2tpTunnelReq is an L2TP_CMD_TUNNEL_CREATE for an L2TPv2 tunnel over a
// UDP socket we own (managed tunnel: the kernel uses the socket and its
// connected peer; no addresses in the request).
type l2tpTunnelReq struct {
	ID, PeerID uint16 // ours and the LAC's
	FD         int    // connected UDP socket, valid in the calling process
}

func (r l2tpTunnelReq) encode() ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(l2tpAttrConnID, uint32(r.ID))
	ae.Uint32(l2tpAttrPeerConnID, uint32(r.PeerID))
	ae.Uint8(l2tpAttrProtoVersion, 2)
	ae.Uint16(l2tpAttrEncapType, l2tpEncapUDP)
	ae.Uint32(l2tpAttrFD, uint32(r.FD))
	return ae.Encode()
}

// l2tpSessionReq is an L2TP_CMD_SESSION_CREATE for a PPP pseudowire in
// LNS mode; L2TP_CMD_SESSION_DELETE uses TunnelID and ID only.
type l2tpSessionReq struct {
	TunnelID   uint16 // ours
	ID, PeerID uint16 // ours and the LAC's
	Seq        bool   // send and require Ns/Nr on data messages
}

func (r l2tpSessionReq) encode() ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(l2tpAttrConnID, uint32(r.TunnelID))
	ae.Uint32(l2tpAttrSessionID, uint32(r.ID))
	ae.Uint32(l2tpAttrPeerSessionID, uint32(r.PeerID))
	ae.Uint16(l2tpAttrPWType, l2tpPWTypePPP)
	ae.Uint8(l2tpAttrLNSMode, 1)
	seq := uint8(0)
	if r.Seq {
		seq = 1
	}
	ae.Uint8(l2tpAttrRecvSeq, seq)
	ae.Uint8(l2tpAttrSendSeq, seq)
	return ae.Encode()
}

func (r l2tpSessionReq) encodeDelete() ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(l2tpAttrConnID, uint32(r.TunnelID))
	ae.Uint32(l2tpAttrSessionID, uint32(r.ID))
	return ae.Encode()
}

func encodeTunnelDelete(id uint16) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(l2tpAttrConnID, uint32(id))
	return ae.Encode()
}

// l2tpGenl is a client of the l2tp family. Its methods are safe for
// concurrent use.
type l2tpGenl struct {
	mu  sync.Mutex
	c   *genetlink.Conn
	fam genetlink.Family
}

// errL2TPMissing names the modules the kernel L2TP data path needs.
const errL2TPMissing = "l2tp_ppp/l2tp_netlink not available"

// dialL2TP opens a generic-netlink socket in the caller's network
// namespace and resolves the l2tp family.
func dialL2TP() (*l2tpGenl, error) {
	c, err := genetlink.Dial(nil)
	if err != nil {
		return nil, fmt.Errorf("kernel: generic netlink: %w", err)
	}
	return newL2TPGenl(c)
}

func newL2TPGenl(c *genetlink.Conn) (*l2tpGenl, error) {
	fam, err := c.GetFamily(l2tpGenlName)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("kernel: %s (generic netlink family %q: %w)", errL2TPMissing, l2tpGenlName, err)
	}
	return &l2tpGenl{c: c, fam: fam}, nil
}

func (g *l2tpGenl) close() error { return g.c.Close() }

// do sends one request and waits for its acknowledgement.
func (g *l2tpGenl) do(cmd uint8, attrs []byte, encErr error) error {
	if encErr != nil {
		return encErr
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	_, err := g.c.Execute(genetlink.Message{
		Header: genetlink.Header{Command: cmd, Version: g.fam.Version},
		Data:   attrs,
	}, g.fam.ID, netlink.Request|netlink.Acknowledge)
	return err
}

func (g *l2tpGenl) createTunnel(r l2tpTunnelReq) error {
	b, err := r.encode()
	if err := g.do(l2tpCmdTunnelCreate, b, err); err != nil {
		return fmt.Errorf("kernel: l2tp tunnel create %d (peer %d): %w", r.ID, r.PeerID, err)
	}
	return nil
}

func (g *l2tpGenl) deleteTunnel(id uint16) error {
	b, err := encodeTunnelDelete(id)
	if err := g.do(l2tpCmdTunnelDelete, b, err); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("kernel: l2tp tunnel delete %d: %w", id, err)
	}
	return nil
}

func (g *l2tpGenl) createSession(r l2tpSessionReq) error {
	b, err := r.encode()
	if err := g.do(l2tpCmdSessionCreate, b, err); err != nil {
		if errors.Is(err, unix.EPROTONOSUPPORT) {
			return fmt.Errorf("kernel: l2tp session create %d/%d: pseudowire PPP unknown to the kernel (l2tp_ppp not loaded): %w", r.TunnelID, r.ID, err)
		}
		return fmt.Errorf("kernel: l2tp session create %d/%d (peer %d): %w", r.TunnelID, r.ID, r.PeerID, err)
	}
	return nil
}

// deleteSession deletes a session; one already gone (closing its PPPoL2TP
// socket or deleting its tunnel removes it) is not an error.
func (g *l2tpGenl) deleteSession(tid, sid uint16) error {
	b, err := l2tpSessionReq{TunnelID: tid, ID: sid}.encodeDelete()
	if err := g.do(l2tpCmdSessionDelete, b, err); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("kernel: l2tp session delete %d/%d: %w", tid, sid, err)
	}
	return nil
}
