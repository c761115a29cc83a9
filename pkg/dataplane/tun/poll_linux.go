package tun

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// A poller reads the TUN devices of many sessions from one goroutine with
// epoll. A reader goroutine per session (with its receive buffer and the
// os.File's poll descriptor) cost 4–6 KiB per session; the pollers cost a
// few buffers in all. The dataplane runs one poller per CPU and spreads the
// devices over them by interface index.
//
// A device stays registered from creation to deletion, parked or not. What
// it reads is sent for the device's current owner (tunDev.owner); with no
// owner (configuring, parked) it is discarded.
//
// The epoll descriptor is itself non-blocking and sits in the Go runtime's
// netpoller (an epoll fd is readable while it has ready events): run parks
// like any goroutine reading a socket instead of blocking a thread in
// epoll_wait, and drains the ready list with epoll_wait(0) when woken.
type poller struct {
	log  *slog.Logger
	ep   *os.File // the epoll fd
	epfd int
	wake int // eventfd: Close writes it to stop run

	mu   sync.RWMutex
	devs map[int32]*tunDev // by fd; guarded by mu

	done chan struct{} // closed when run returns
}

// readBatch bounds the packets read from one device per readiness event,
// so that a busy session cannot starve the others.
const readBatch = 64

func newPoller(log *slog.Logger) (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("tun: %w", os.NewSyscallError("epoll_create1", err))
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("tun: %w", os.NewSyscallError("fcntl", err))
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("tun: %w", os.NewSyscallError("eventfd", err))
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, fmt.Errorf("tun: %w", os.NewSyscallError("epoll_ctl", err))
	}
	p := &poller{log: log, ep: os.NewFile(uintptr(epfd), "tun-epoll"), epfd: epfd, wake: wake,
		devs: make(map[int32]*tunDev), done: make(chan struct{})}
	rc, err := p.ep.SyscallConn()
	if err != nil {
		p.ep.Close()
		unix.Close(wake)
		return nil, fmt.Errorf("tun: epoll: %w", err)
	}
	go p.run(rc)
	return p, nil
}

// add registers d; its packets are discarded until it has an owner.
func (p *poller) add(d *tunDev) error {
	p.mu.Lock()
	p.devs[int32(d.fd)] = d
	p.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(d.fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, d.fd, &ev); err != nil {
		p.mu.Lock()
		delete(p.devs, int32(d.fd))
		p.mu.Unlock()
		return fmt.Errorf("tun: %s: %w", d.name, os.NewSyscallError("epoll_ctl add", err))
	}
	return nil
}

// remove unregisters d before its fd is closed. An event for d that run
// has already fetched finds no device (or, once the fd number is reused,
// a device that is not readable) and is skipped.
func (p *poller) remove(d *tunDev) {
	_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, d.fd, nil)
	p.mu.Lock()
	if p.devs[int32(d.fd)] == d {
		delete(p.devs, int32(d.fd))
	}
	p.mu.Unlock()
}

func (p *poller) run(rc syscall.RawConn) {
	defer close(p.done)
	events := make([]unix.EpollEvent, 128)
	buf := make([]byte, maxHdr+65536)
	var ferr error
	err := rc.Read(func(fd uintptr) bool {
		for {
			n, err := unix.EpollWait(int(fd), events, 0)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				ferr = err
				return true
			}
			if n == 0 {
				return false // park until the epoll fd is readable again
			}
			for _, ev := range events[:n] {
				if int(ev.Fd) == p.wake {
					return true
				}
				p.mu.RLock()
				d := p.devs[ev.Fd]
				p.mu.RUnlock()
				if d != nil {
					d.readBatch(buf)
				}
			}
		}
	})
	if err == nil {
		err = ferr
	}
	if err != nil {
		p.log.Error("tun: epoll_wait failed", slog.Any("err", err))
	}
}

// close stops run; the devices stay open (their owners close them).
func (p *poller) close() {
	one := [8]byte{1} // any non-zero counter value, whatever the byte order
	unix.Write(p.wake, one[:])
	<-p.done
	p.ep.Close()
	unix.Close(p.wake)
}

// readBatch reads up to readBatch packets from d and sends them for its
// owner, or discards them when it has none.
func (d *tunDev) readBatch(buf []byte) {
	d.rmu.Lock()
	defer d.rmu.Unlock()
	s := d.owner.Load()
	for range readBatch {
		n, err := unix.Read(d.fd, buf[maxHdr:])
		if err != nil {
			if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) && s != nil {
				s.log.Error("tun read failed", "iface", d.name, slog.Any("err", err))
			}
			return
		}
		if s != nil {
			s.transmit(buf, n)
		}
	}
}

// attach makes s the owner of d after discarding what the kernel queued
// while d had none; from here on run sends d's packets for s.
func (d *tunDev) attach(s *session) {
	d.rmu.Lock()
	defer d.rmu.Unlock()
	var junk [64]byte // a short read still dequeues the whole packet
	for {
		if _, err := unix.Read(d.fd, junk[:]); err != nil {
			break // EAGAIN: empty
		}
	}
	d.owner.Store(s)
}

// detach clears d's owner and waits until no batch is being sent for it:
// after detach returns, nothing d reads reaches the old owner.
func (d *tunDev) detach() {
	d.rmu.Lock() // waits for a batch in progress
	d.owner.Store(nil)
	d.rmu.Unlock()
}
