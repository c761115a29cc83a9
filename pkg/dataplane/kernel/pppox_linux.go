package kernel

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pxProtoOE is PX_PROTO_OE from linux/if_pppox.h.
const pxProtoOE = 0

// sockaddrPPPoXLen is sizeof(struct sockaddr_pppox) for PX_PROTO_OE:
//
//	struct sockaddr_pppox {          // __packed
//		__kernel_sa_family_t sa_family;   // 0: AF_PPPOX, host order
//		unsigned int         sa_protocol; // 2: PX_PROTO_OE, host order
//		struct pppoe_addr {
//			sid_t         sid;            // 6: session ID, network order
//			unsigned char remote[6];      // 8: peer MAC
//			char          dev[16];        // 14: interface name
//		} pppoe;
//	};                                    // 30 bytes
const sockaddrPPPoXLen = 30

// marshalSockaddrPPPoE fills the sockaddr_pppox for a PPPoE session.
func marshalSockaddrPPPoE(sid uint16, remote net.HardwareAddr, dev string) ([sockaddrPPPoXLen]byte, error) {
	var b [sockaddrPPPoXLen]byte
	if len(remote) != 6 {
		return b, fmt.Errorf("kernel: peer MAC %v is not 6 bytes", remote)
	}
	if len(dev) == 0 || len(dev) >= unix.IFNAMSIZ {
		return b, fmt.Errorf("kernel: bad interface name %q", dev)
	}
	binary.NativeEndian.PutUint16(b[0:], unix.AF_PPPOX)
	binary.NativeEndian.PutUint32(b[2:], pxProtoOE)
	binary.BigEndian.PutUint16(b[6:], sid)
	copy(b[8:14], remote)
	copy(b[14:], dev)
	return b, nil
}

// connectPPPoE creates a PPPoE socket connected to session sid of remote on
// dev, and returns it with its PPP channel index.
func connectPPPoE(sid uint16, remote net.HardwareAddr, dev string) (fd, chindex int, err error) {
	sa, err := marshalSockaddrPPPoE(sid, remote, dev)
	if err != nil {
		return -1, 0, err
	}
	fd, err = unix.Socket(unix.AF_PPPOX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, pxProtoOE)
	if err != nil {
		return -1, 0, os.NewSyscallError("socket AF_PPPOX", err)
	}
	_, _, errno := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa[0])), sockaddrPPPoXLen)
	if errno != 0 {
		unix.Close(fd)
		return -1, 0, os.NewSyscallError("connect AF_PPPOX", errno)
	}
	chindex, err = unix.IoctlGetInt(fd, unix.PPPIOCGCHAN)
	if err != nil {
		unix.Close(fd)
		return -1, 0, os.NewSyscallError("ioctl PPPIOCGCHAN", err)
	}
	return fd, chindex, nil
}

// openPPP opens /dev/ppp non-blocking (readers poll it). It creates the
// node when it is missing.
func openPPP() (int, error) {
	const flags = unix.O_RDWR | unix.O_NONBLOCK | unix.O_CLOEXEC
	fd, err := unix.Open("/dev/ppp", flags, 0)
	if err == unix.ENOENT {
		if merr := unix.Mknod("/dev/ppp", unix.S_IFCHR|0o600, int(unix.Mkdev(108, 0))); merr != nil && merr != unix.EEXIST {
			return -1, fmt.Errorf("kernel: /dev/ppp is missing and mknod failed: %w", os.NewSyscallError("mknod", merr))
		}
		fd, err = unix.Open("/dev/ppp", flags, 0)
	}
	if err != nil {
		return -1, os.NewSyscallError("open /dev/ppp", err)
	}
	return fd, nil
}

// ioctlInt runs an ioctl that takes a pointer to an int, in and out.
func ioctlInt(fd int, req uint, v *int32) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(unsafe.Pointer(v)))
	if errno != 0 {
		return errno
	}
	return nil
}

// attachChannel opens a /dev/ppp fd attached to channel chindex.
func attachChannel(chindex int) (int, error) {
	fd, err := openPPP()
	if err != nil {
		return -1, err
	}
	v := int32(chindex)
	if err := ioctlInt(fd, unix.PPPIOCATTCHAN, &v); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("ioctl PPPIOCATTCHAN", err)
	}
	return fd, nil
}

// newUnit creates a PPP unit (interface pppN) and returns its fd and N.
func newUnit() (int, int, error) {
	fd, err := openPPP()
	if err != nil {
		return -1, 0, err
	}
	unit := int32(-1)
	if err := ioctlInt(fd, unix.PPPIOCNEWUNIT, &unit); err != nil {
		unix.Close(fd)
		return -1, 0, os.NewSyscallError("ioctl PPPIOCNEWUNIT", err)
	}
	return fd, int(unit), nil
}

// pxProtoOL2TP is PX_PROTO_OL2TP from linux/if_pppox.h (module l2tp_ppp).
const pxProtoOL2TP = 1

// sockaddrPPPoL2TPLen is sizeof(struct sockaddr_pppol2tp), L2TPv2 over IPv4:
//
//	struct sockaddr_pppol2tp {            // __packed
//		__kernel_sa_family_t sa_family;   // 0: AF_PPPOX, host order
//		unsigned int         sa_protocol; // 2: PX_PROTO_OL2TP, host order
//		struct pppol2tp_addr {
//			__kernel_pid_t pid;           // 6: 0 = the caller
//			int            fd;            // 10: the tunnel's UDP socket
//			struct sockaddr_in addr;      // 14: peer (family host order, port and address network order)
//			__u16 s_tunnel, s_session;    // 30, 32: ours, host order
//			__u16 d_tunnel, d_session;    // 34, 36: the peer's, host order
//		} pppol2tp;
//	};                                    // 38 bytes
const sockaddrPPPoL2TPLen = 38

// pppol2tpAddr is what a PPPoL2TP socket connects to.
type pppol2tpAddr struct {
	FD                  int            // tunnel UDP socket
	Peer                netip.AddrPort // IPv4
	Tunnel, Session     uint16         // ours
	PeerTunnel, PeerSID uint16
}

func marshalSockaddrPPPoL2TP(a pppol2tpAddr) ([sockaddrPPPoL2TPLen]byte, error) {
	var b [sockaddrPPPoL2TPLen]byte
	if !a.Peer.Addr().Unmap().Is4() {
		return b, fmt.Errorf("kernel: L2TP peer %v is not IPv4", a.Peer)
	}
	if a.FD < 0 {
		return b, fmt.Errorf("kernel: bad tunnel socket fd %d", a.FD)
	}
	binary.NativeEndian.PutUint16(b[0:], unix.AF_PPPOX)
	binary.NativeEndian.PutUint32(b[2:], pxProtoOL2TP)
	binary.NativeEndian.PutUint32(b[6:], 0)
	binary.NativeEndian.PutUint32(b[10:], uint32(a.FD))
	binary.NativeEndian.PutUint16(b[14:], unix.AF_INET)
	binary.BigEndian.PutUint16(b[16:], a.Peer.Port())
	ip := a.Peer.Addr().Unmap().As4()
	copy(b[18:22], ip[:])
	binary.NativeEndian.PutUint16(b[30:], a.Tunnel)
	binary.NativeEndian.PutUint16(b[32:], a.Session)
	binary.NativeEndian.PutUint16(b[34:], a.PeerTunnel)
	binary.NativeEndian.PutUint16(b[36:], a.PeerSID)
	return b, nil
}

// connectPPPoL2TP creates a PPPoL2TP socket connected to an existing kernel
// L2TP session, and returns it with its PPP channel index.
func connectPPPoL2TP(a pppol2tpAddr) (fd, chindex int, err error) {
	sa, err := marshalSockaddrPPPoL2TP(a)
	if err != nil {
		return -1, 0, err
	}
	fd, err = unix.Socket(unix.AF_PPPOX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, pxProtoOL2TP)
	if err != nil {
		return -1, 0, fmt.Errorf("%s: %w", errL2TPMissing, os.NewSyscallError("socket AF_PPPOX PX_PROTO_OL2TP", err))
	}
	_, _, errno := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa[0])), sockaddrPPPoL2TPLen)
	if errno != 0 {
		unix.Close(fd)
		return -1, 0, os.NewSyscallError("connect AF_PPPOX PX_PROTO_OL2TP", errno)
	}
	chindex, err = unix.IoctlGetInt(fd, unix.PPPIOCGCHAN)
	if err != nil {
		unix.Close(fd)
		return -1, 0, os.NewSyscallError("ioctl PPPIOCGCHAN", err)
	}
	return fd, chindex, nil
}
