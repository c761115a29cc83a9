package pppoe

import "time"

// A bucket is a token bucket; tokens refill at rate per second up to burst.
type bucket struct {
	tokens float64
	last   int64 // UnixNano of the last refill
}

// take refills b to now and takes one token if there is one.
func (b *bucket) take(now int64, rate, burst float64) bool {
	if d := now - b.last; d > 0 {
		b.tokens = min(burst, b.tokens+float64(d)*rate/float64(time.Second))
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}

// macTable holds per-MAC buckets in two generations: entries are created
// in cur; when cur holds half the bound, it becomes prev and the old prev is
// dropped. A MAC seen again is moved from prev to cur. Memory is bounded by
// max entries and no per-call allocation happens once the maps have grown.
// A forgotten MAC starts again with a full bucket.
type macTable struct {
	cur, prev map[[6]byte]bucket
}

func (t *macTable) allow(mac [6]byte, now int64, rate, burst float64, maxEntries int) bool {
	if t.cur == nil {
		t.cur, t.prev = make(map[[6]byte]bucket), make(map[[6]byte]bucket)
	}
	b, ok := t.cur[mac]
	if !ok {
		if b, ok = t.prev[mac]; ok {
			delete(t.prev, mac)
		} else {
			b = bucket{tokens: burst, last: now}
		}
		if len(t.cur) >= max(maxEntries/2, 1) {
			t.prev, t.cur = t.cur, t.prev
			clear(t.cur)
		}
	}
	allowed := b.take(now, rate, burst)
	t.cur[mac] = b
	return allowed
}

func (t *macTable) len() int { return len(t.cur) + len(t.prev) }
