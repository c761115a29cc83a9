//go:build integration

package integration

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// rawICMPIn opens a raw ICMP socket inside namespace ns. The namespace
// switch happens on a throwaway locked thread, which Go discards when the
// goroutine exits still locked; the socket stays in ns.
func rawICMPIn(ns string) (int, error) {
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			ch <- result{-1, err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{-1, fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
		ch <- result{fd, err}
	}()
	r := <-ch
	return r.fd, r.err
}

// icmpEcho returns an ICMP echo request (RFC 792) with a 56-byte payload.
func icmpEcho(id, seq uint16) []byte {
	b := make([]byte, 8+56)
	b[0] = 8
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	for i := 8; i < len(b); i++ {
		b[i] = byte(i)
	}
	var s uint32
	for i := 0; i < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	binary.BigEndian.PutUint16(b[2:], ^uint16(s))
	return b
}

// pingAll sends count echo requests to every address from namespace ns
// (one process, no fork per address) and waits up to wait for the
// replies. It returns the number of replies per address.
func pingAll(ns string, ips []string, count int, wait time.Duration) (map[string]int, error) {
	fd, err := rawICMPIn(ns)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	// Hundreds of replies arrive in a burst; the default buffer holds ~300.
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	id := uint16(os.Getpid())
	got := make(map[string]int, len(ips))
	want := map[[2]uint32]bool{} // (addr, seq) outstanding
	for seq := 1; seq <= count; seq++ {
		for _, ip := range ips {
			a, err := netip.ParseAddr(ip)
			if err != nil || !a.Is4() {
				return nil, fmt.Errorf("bad address %q", ip)
			}
			sa := &unix.SockaddrInet4{Addr: a.As4()}
			if err := unix.Sendto(fd, icmpEcho(id, uint16(seq)), 0, sa); err != nil {
				return nil, fmt.Errorf("sendto %s: %w", ip, err)
			}
			want[[2]uint32{binary.BigEndian.Uint32(sa.Addr[:]), uint32(seq)}] = true
		}
		time.Sleep(20 * time.Millisecond)
	}
	deadline := time.Now().Add(wait)
	buf := make([]byte, 2048)
	for len(want) > 0 && time.Now().Before(deadline) {
		tv := unix.NsecToTimeval(int64(time.Until(deadline)))
		if tv.Sec == 0 && tv.Usec == 0 {
			break
		}
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			if err == unix.EAGAIN || err == unix.EINTR {
				continue
			}
			return nil, fmt.Errorf("recvfrom: %w", err)
		}
		p := buf[:n]
		if n < 20 {
			continue
		}
		ihl := int(p[0]&15) * 4
		if n < ihl+8 || p[ihl] != 0 || binary.BigEndian.Uint16(p[ihl+4:]) != id {
			continue
		}
		key := [2]uint32{binary.BigEndian.Uint32(p[12:16]), uint32(binary.BigEndian.Uint16(p[ihl+6:]))}
		if want[key] {
			delete(want, key)
			got[netip.AddrFrom4([4]byte(p[12:16])).String()]++
		}
	}
	return got, nil
}
