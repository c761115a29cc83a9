package tun

import (
	"math/bits"
	"sync"
)

// unitAlloc hands out the lowest free interface unit number (the N of
// ppp<N>). Choosing the name ourselves avoids the kernel's "ppp%d"
// expansion, which scans every interface name on each creation and made
// setup slow down linearly with the number of sessions.
type unitAlloc struct {
	mu   sync.Mutex
	used []uint64 // bitmap; guarded by mu
}

// get returns the lowest free unit and marks it used.
func (u *unitAlloc) get() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	for i, w := range u.used {
		if w != ^uint64(0) {
			b := bits.TrailingZeros64(^w)
			u.used[i] |= 1 << b
			return i*64 + b
		}
	}
	u.used = append(u.used, 1)
	return (len(u.used) - 1) * 64
}

// put frees unit n.
func (u *unitAlloc) put(n int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if i := n / 64; i < len(u.used) {
		u.used[i] &^= 1 << (n % 64)
	}
}
