package afpacket

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DefaultBatch is how many frames one ReadBatch call can return.
const DefaultBatch = 32

// A Conn is an AF_PACKET socket bound to one interface that receives PPPoE
// frames with VLAN tags in-band. One goroutine may call ReadBatch; any number
// may call WriteFrame concurrently.
type Conn struct {
	ifi *net.Interface
	f   *os.File
	rc  interface {
		Read(func(fd uintptr) bool) error
	}

	// Receive state, owned by the single reader.
	bufSize int
	bufs    [][]byte
	iovs    []unix.Iovec
	names   []unix.RawSockaddrLinklayer
	oobs    [][]byte
	msgs    []unix.Mmsghdr
	frames  [][]byte
	nread   int
	rerr    error
	readFn  func(fd uintptr) bool

	truncated atomic.Uint64
	closed    atomic.Bool
}

// An OpError is a failed system call on a Conn.
type OpError struct {
	Op  string
	Err error
}

func (e *OpError) Error() string { return "afpacket: " + e.Op + ": " + e.Err.Error() }
func (e *OpError) Unwrap() error { return e.Err }

func opErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return &OpError{Op: op, Err: err}
}

// Listen opens a Conn on the interface named ifname that receives PPPoE
// discovery and session frames (Filter).
func Listen(ifname string) (*Conn, error) { return listen(ifname, Filter()) }

// ListenDiscovery opens a Conn on the interface named ifname that receives
// PPPoE discovery frames only (DiscoveryFilter): the kernel dataplane's
// port, whose session frames the kernel's pppoe driver takes.
func ListenDiscovery(ifname string) (*Conn, error) { return listen(ifname, DiscoveryFilter()) }

func listen(ifname string, prog []unix.SockFilter) (*Conn, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("afpacket: %w", err)
	}
	// Protocol 0: nothing is queued before the filter is attached and bind
	// selects ETH_P_ALL.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, opErr("socket", err)
	}
	if err := setup(fd, ifi.Index, prog); err != nil {
		unix.Close(fd)
		return nil, err
	}
	c := &Conn{ifi: ifi, f: os.NewFile(uintptr(fd), "afpacket:"+ifname)}
	rc, err := c.f.SyscallConn()
	if err != nil {
		c.f.Close()
		return nil, opErr("syscallconn", err)
	}
	c.rc = rc
	size := ifi.MTU + 14 + 8 + Headroom
	if size < 2048 {
		size = 2048
	}
	c.initBatch(DefaultBatch, size)
	return c, nil
}

func setup(fd, ifindex int, prog []unix.SockFilter) error {
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return opErr("attach filter", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
		return opErr("setsockopt PACKET_AUXDATA", err)
	}
	// Best effort (Linux 4.20+); the filter rejects outgoing frames anyway.
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}
	if err := unix.Bind(fd, sa); err != nil {
		return opErr("bind", err)
	}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (c *Conn) initBatch(n, size int) {
	c.bufSize = size
	c.bufs = make([][]byte, n)
	c.iovs = make([]unix.Iovec, n)
	c.names = make([]unix.RawSockaddrLinklayer, n)
	c.oobs = make([][]byte, n)
	c.msgs = make([]unix.Mmsghdr, n)
	c.frames = make([][]byte, 0, n)
	oobLen := unix.CmsgSpace(sizeofAuxdata)
	for i := range n {
		c.bufs[i] = make([]byte, size)
		c.oobs[i] = make([]byte, oobLen)
		c.iovs[i].Base = &c.bufs[i][Headroom]
		c.iovs[i].SetLen(size - Headroom)
		h := &c.msgs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&c.names[i]))
		h.Iov = &c.iovs[i]
		h.SetIovlen(1)
		h.Control = &c.oobs[i][0]
	}
	c.readFn = c.recvmmsg
}

// recvmmsg is the RawConn.Read callback; it returns false to wait for
// readiness.
func (c *Conn) recvmmsg(fd uintptr) bool {
	for i := range c.msgs {
		h := &c.msgs[i].Hdr
		h.Namelen = unix.SizeofSockaddrLinklayer
		h.SetControllen(len(c.oobs[i]))
		h.Flags = 0
		c.msgs[i].Len = 0
	}
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&c.msgs[0])),
		uintptr(len(c.msgs)), unix.MSG_DONTWAIT, 0, 0)
	switch errno {
	case 0:
		c.nread, c.rerr = int(n), nil
		return true
	case unix.EAGAIN:
		return false
	case unix.EINTR:
		c.nread, c.rerr = 0, nil
		return true
	default:
		c.nread, c.rerr = 0, errno
		return true
	}
}

// ReadBatch blocks until at least one frame arrives and returns the frames
// read, each a whole Ethernet frame with its VLAN tags in-band. The frames
// alias the Conn's buffers and are valid until the next ReadBatch call.
// Truncated frames are dropped and counted (Truncated). After Close it
// returns an error wrapping net.ErrClosed.
func (c *Conn) ReadBatch() ([][]byte, error) {
	for {
		if err := c.rc.Read(c.readFn); err != nil {
			if c.closed.Load() {
				// os.File says "use of closed file" (internal/poll's
				// ErrFileClosing, which matches no exported error).
				err = net.ErrClosed
			}
			return nil, opErr("read", err)
		}
		if c.rerr != nil {
			return nil, opErr("recvmmsg", c.rerr)
		}
		c.frames = c.frames[:0]
		for i := 0; i < c.nread; i++ {
			if f := c.frame(i); f != nil {
				c.frames = append(c.frames, f)
			}
		}
		if len(c.frames) > 0 {
			return c.frames, nil
		}
	}
}

// Serve calls handle with every frame read until the Conn is closed (then
// it returns nil) or a read fails (it returns the error). A link going down
// is reported once to log and the socket keeps working. handle's frame is
// valid only during the call.
func (c *Conn) Serve(log *slog.Logger, handle func(frame []byte)) error {
	for {
		frames, err := c.ReadBatch()
		if errors.Is(err, unix.ENETDOWN) {
			log.Warn("port link down", slog.String("port", c.Name()), slog.Any("err", err))
			continue
		}
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, f := range frames {
			handle(f)
		}
	}
}

// frame decodes message i of the last batch; nil means skip it.
func (c *Conn) frame(i int) []byte {
	m := &c.msgs[i]
	n := int(m.Len)
	if m.Hdr.Flags&unix.MSG_TRUNC != 0 || n > c.bufSize-Headroom {
		c.truncated.Add(1)
		return nil
	}
	if c.names[i].Pkttype == unix.PACKET_OUTGOING {
		return nil
	}
	aux, ok := auxdata(c.oobs[i][:m.Hdr.Controllen])
	if ok && aux.Status&unix.TP_STATUS_VLAN_VALID != 0 {
		tpid := uint16(EtherTypeVLAN)
		if aux.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
			tpid = aux.Vlan_tpid
		}
		return insertTag(c.bufs[i], n, tpid, aux.Vlan_tci)
	}
	return c.bufs[i][Headroom : Headroom+n]
}

// auxdata finds the PACKET_AUXDATA control message in oob.
func auxdata(oob []byte) (unix.TpacketAuxdata, bool) {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			break
		}
		if h.Level == unix.SOL_PACKET && h.Type == unix.PACKET_AUXDATA &&
			l-unix.CmsgLen(0) >= sizeofAuxdata {
			return *(*unix.TpacketAuxdata)(unsafe.Pointer(&oob[unix.CmsgLen(0)])), true
		}
		sp := unix.CmsgSpace(l - unix.CmsgLen(0))
		if sp > len(oob) {
			break
		}
		oob = oob[sp:]
	}
	return unix.TpacketAuxdata{}, false
}

// WriteFrame sends one whole Ethernet frame, VLAN tags in-band.
func (c *Conn) WriteFrame(frame []byte) error {
	_, err := c.f.Write(frame)
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return opErr("write", err)
}

// Name is the interface name.
func (c *Conn) Name() string { return c.ifi.Name }

// Index is the interface index.
func (c *Conn) Index() int { return c.ifi.Index }

// MAC is the interface's hardware address.
func (c *Conn) MAC() net.HardwareAddr { return c.ifi.HardwareAddr }

// Truncated counts frames dropped because they did not fit the buffer.
func (c *Conn) Truncated() uint64 { return c.truncated.Load() }

// Close closes the socket and unblocks ReadBatch.
func (c *Conn) Close() error {
	c.closed.Store(true)
	return c.f.Close()
}

const sizeofAuxdata = int(unsafe.Sizeof(unix.TpacketAuxdata{}))
