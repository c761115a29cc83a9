package kernel

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"

	"github.com/bngbox/bngbox/internal/sockopt"
	"github.com/bngbox/bngbox/pkg/dataplane"
	"golang.org/x/sys/unix"
)

// A tunnel is a kernel L2TPv2 tunnel (L2TP_CMD_TUNNEL_CREATE on a UDP
// socket). The kernel attaches a tunnel to one socket, and the LNS serves
// every tunnel on one unconnected socket, so each kernel tunnel gets a
// socket of its own: bound to the LNS's address and port (SO_REUSEADDR on
// both) and connected to the LAC, which makes the kernel deliver the LAC's
// packets to it rather than to the LNS socket. The kernel consumes data
// messages of its sessions and passes up the rest (control messages, data
// for sessions it does not know), which readLoop hands to the LNS (Input).
// A tunnel lives while it has sessions; the LNS keeps the control
// connection either way.
type tunnel struct {
	id, peerID uint16
	peer       netip.AddrPort
	conn       *net.UDPConn
	fd         int // conn's descriptor, valid while conn is open
	input      func(b []byte, from netip.AddrPort)
	genl       *l2tpGenl // the client that created it (Close may have closed it)
	log        *slog.Logger
	done       chan struct{} // closed when readLoop returns

	refs int // guarded by Dataplane.l2tpMu; sessions using the tunnel
}

// NewL2TPSession hands an established call's data to the kernel: a kernel
// tunnel (shared by the tunnel's sessions), a kernel session with a PPP
// pseudowire (L2TP_CMD_SESSION_CREATE), a PPPoL2TP socket connected to it
// and a /dev/ppp channel on that, as for PPPoE. Control frames (LCP,
// authentication, NCPs) are read from the channel and go to p.Control;
// Up makes pppN. The call's own IP writer is not used.
func (d *Dataplane) NewL2TPSession(p dataplane.L2TPParams) (dataplane.Session, error) {
	if p.Control == nil || p.Input == nil {
		return nil, errors.New("kernel: L2TP session needs Control and Input")
	}
	if !p.Peer.Addr().Unmap().Is4() || p.TunnelID == 0 || p.SessionID == 0 || p.PeerTunnelID == 0 || p.PeerSessionID == 0 {
		return nil, fmt.Errorf("kernel: L2TP session %d/%d (peer %d/%d at %v): want non-zero IDs and an IPv4 peer",
			p.TunnelID, p.SessionID, p.PeerTunnelID, p.PeerSessionID, p.Peer)
	}
	g, t, err := d.acquireTunnel(p)
	if err != nil {
		return nil, err
	}
	req := l2tpSessionReq{TunnelID: p.TunnelID, ID: p.SessionID, PeerID: p.PeerSessionID, Seq: p.Sequencing}
	if err := g.createSession(req); err != nil {
		d.releaseTunnel(t)
		return nil, err
	}
	fd, chIndex, err := connectPPPoL2TP(pppol2tpAddr{FD: t.fd, Peer: p.Peer,
		Tunnel: p.TunnelID, Session: p.SessionID, PeerTunnel: p.PeerTunnelID, PeerSID: p.PeerSessionID})
	if err != nil {
		err = errors.Join(fmt.Errorf("kernel: L2TP session %d/%d: %w", p.TunnelID, p.SessionID, err),
			g.deleteSession(p.TunnelID, p.SessionID))
		d.releaseTunnel(t)
		return nil, err
	}
	closeSock := func() error {
		err := errors.Join(g.deleteSession(p.TunnelID, p.SessionID), unix.Close(fd))
		d.releaseTunnel(t)
		return err
	}
	log := d.log.With("tid", p.TunnelID, "sid", p.SessionID, "channel", chIndex)
	s, err := startSession(d, fd, chIndex, p.Control, log, closeSock)
	if err != nil {
		return nil, fmt.Errorf("kernel: L2TP session %d/%d: %w", p.TunnelID, p.SessionID, err)
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		s.Close()
		return nil, net.ErrClosed
	}
	d.sessions[s] = struct{}{}
	d.mu.Unlock()
	log.Debug("kernel L2TP session created", "peer_tid", p.PeerTunnelID, "peer_sid", p.PeerSessionID)
	return s, nil
}

// acquireTunnel returns the l2tp genl client and the kernel tunnel for
// p.TunnelID, creating them as needed, with one more reference held.
func (d *Dataplane) acquireTunnel(p dataplane.L2TPParams) (*l2tpGenl, *tunnel, error) {
	d.l2tpMu.Lock()
	defer d.l2tpMu.Unlock()
	if d.genl == nil {
		g, err := openL2TP()
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", err, dataplane.ErrUnsupported)
		}
		d.genl = g
	}
	if t := d.tunnels[p.TunnelID]; t != nil {
		if t.peerID != p.PeerTunnelID || t.peer != p.Peer {
			return nil, nil, fmt.Errorf("kernel: L2TP tunnel %d exists for peer %d at %v, not %d at %v",
				p.TunnelID, t.peerID, t.peer, p.PeerTunnelID, p.Peer)
		}
		t.refs++
		return d.genl, t, nil
	}
	for _, o := range d.tunnels {
		if o.peer == p.Peer {
			// Both tunnels' sockets would have the same 4-tuple, so UDP
			// would deliver both to one of them, and Linux 6.1 finds a
			// v2 session by its ID within the socket's tunnel, ignoring
			// the header's tunnel ID: sessions would cross.
			return nil, nil, fmt.Errorf("kernel: L2TP tunnel %d: the LAC at %v already has tunnel %d in the kernel, and the kernel cannot tell two tunnels on one UDP address pair apart: %w",
				p.TunnelID, p.Peer, o.id, dataplane.ErrUnsupported)
		}
	}
	conn, fd, err := dialTunnelSocket(p.Local, p.Peer)
	if err != nil {
		return nil, nil, fmt.Errorf("kernel: L2TP tunnel %d: socket to %v: %w", p.TunnelID, p.Peer, err)
	}
	if err := d.genl.createTunnel(l2tpTunnelReq{ID: p.TunnelID, PeerID: p.PeerTunnelID, FD: fd}); err != nil {
		conn.Close()
		return nil, nil, err
	}
	t := &tunnel{id: p.TunnelID, peerID: p.PeerTunnelID, peer: p.Peer, conn: conn, fd: fd, input: p.Input, genl: d.genl,
		log: d.log.With("tid", p.TunnelID, "peer", p.Peer), done: make(chan struct{}), refs: 1}
	d.tunnels[t.id] = t
	go t.readLoop()
	t.log.Debug("kernel L2TP tunnel created", "peer_tid", t.peerID, "local", conn.LocalAddr().String())
	return d.genl, t, nil
}

// releaseTunnel drops one reference; the last deletes the kernel tunnel
// and closes its socket (the LAC's packets then reach the LNS socket
// again).
func (d *Dataplane) releaseTunnel(t *tunnel) {
	d.l2tpMu.Lock()
	t.refs--
	if t.refs > 0 {
		d.l2tpMu.Unlock()
		return
	}
	if d.tunnels[t.id] == t {
		delete(d.tunnels, t.id)
	}
	if err := t.genl.deleteTunnel(t.id); err != nil {
		t.log.Warn("kernel L2TP tunnel delete failed", slog.Any("err", err))
	}
	d.l2tpMu.Unlock()
	t.conn.Close()
	<-t.done
	t.log.Debug("kernel L2TP tunnel deleted")
}

// closeL2TP closes the genl client (after every session closed; a session
// still closing elsewhere then fails to delete its kernel objects, which
// go with their sockets anyway).
func (d *Dataplane) closeL2TP() error {
	d.l2tpMu.Lock()
	defer d.l2tpMu.Unlock()
	if d.genl == nil {
		return nil
	}
	err := d.genl.close()
	d.genl = nil
	return err
}

// readLoop hands what the kernel passes up on the tunnel's socket to the
// LNS until the socket is closed.
func (t *tunnel) readLoop() {
	defer close(t.done)
	buf := make([]byte, 65536)
	for {
		n, err := t.conn.Read(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// ICMP errors (ECONNREFUSED) surface on a connected socket;
			// they are one-shot.
			t.log.Debug("tunnel socket read", slog.Any("err", err))
			continue
		}
		t.input(buf[:n], t.peer)
	}
}

// openL2TP resolves the l2tp family and checks PPPoL2TP sockets exist.
func openL2TP() (*l2tpGenl, error) {
	g, err := dialL2TP()
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_PPPOX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, pxProtoOL2TP)
	if err != nil {
		g.close()
		return nil, fmt.Errorf("kernel: %s (%w)", errL2TPMissing, os.NewSyscallError("socket AF_PPPOX PX_PROTO_OL2TP", err))
	}
	unix.Close(fd)
	return g, nil
}

// dialTunnelSocket opens a UDP socket bound to local's port (and address,
// unless unspecified) with SO_REUSEADDR, connected to peer, and returns it
// with its descriptor.
func dialTunnelSocket(local, peer netip.AddrPort) (*net.UDPConn, int, error) {
	laddr := &net.UDPAddr{Port: int(local.Port())}
	if a := local.Addr().Unmap(); a.Is4() && !a.IsUnspecified() {
		laddr.IP = a.AsSlice()
	}
	dialer := net.Dialer{LocalAddr: laddr, Control: sockopt.ReuseAddr}
	c, err := dialer.Dial("udp4", netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port()).String())
	if err != nil {
		return nil, -1, err
	}
	conn := c.(*net.UDPConn)
	rc, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, -1, err
	}
	fd := -1
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		conn.Close()
		return nil, -1, err
	}
	return conn, fd, nil
}
