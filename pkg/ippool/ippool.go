// Package ippool hands out IPv4 addresses from named ranges.
package ippool

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
)

// ErrExhausted is returned when a pool has no free address.
var ErrExhausted = errors.New("address pool exhausted")

// Pool is one range of addresses. It is safe for concurrent use.
type Pool struct {
	name        string
	first, last uint32
	mu          sync.Mutex
	used        map[uint32]struct{}
	next        uint32 // round-robin cursor: a freed address is not handed out again at once
}

// New makes a pool over first..last inclusive.
func New(name string, first, last netip.Addr) (*Pool, error) {
	if !first.Is4() || !last.Is4() || last.Less(first) {
		return nil, fmt.Errorf("pool %s: bad range %v-%v", name, first, last)
	}
	p := &Pool{name: name, first: u32(first), last: u32(last), used: map[uint32]struct{}{}}
	p.next = p.first
	return p, nil
}

// Name is the pool's name.
func (p *Pool) Name() string { return p.name }

// Range renders the pool as first-last.
func (p *Pool) Range() string { return addr(p.first).String() + "-" + addr(p.last).String() }

// Size is the number of addresses.
func (p *Pool) Size() int { return int(p.last-p.first) + 1 }

// Used is the number of addresses handed out.
func (p *Pool) Used() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.used)
}

// Contains reports whether a is inside the pool's range.
func (p *Pool) Contains(a netip.Addr) bool {
	v := u32(a)
	return a.Is4() && v >= p.first && v <= p.last
}

// Get hands out the next free address.
func (p *Pool) Get() (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.used) >= p.Size() {
		return netip.Addr{}, fmt.Errorf("pool %s: %w", p.name, ErrExhausted)
	}
	for {
		v := p.next
		if p.next == p.last {
			p.next = p.first
		} else {
			p.next++
		}
		if _, busy := p.used[v]; !busy {
			p.used[v] = struct{}{}
			return addr(v), nil
		}
	}
}

// Reserve takes a specific address (a fixed or RADIUS-assigned one inside
// the range). It fails if the address is in use.
func (p *Pool) Reserve(a netip.Addr) error {
	if !p.Contains(a) {
		return fmt.Errorf("pool %s: %v is outside %s", p.name, a, p.Range())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, busy := p.used[u32(a)]; busy {
		return fmt.Errorf("pool %s: %v is in use", p.name, a)
	}
	p.used[u32(a)] = struct{}{}
	return nil
}

// Put returns an address. Addresses outside the range are ignored.
func (p *Pool) Put(a netip.Addr) {
	if !p.Contains(a) {
		return
	}
	p.mu.Lock()
	delete(p.used, u32(a))
	p.mu.Unlock()
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func addr(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
