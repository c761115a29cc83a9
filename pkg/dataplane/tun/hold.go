package tun

// holdQueue keeps copies of the IP frames a subscriber sent before Up, up
// to a limit; the oldest are kept and later ones dropped. Not safe for
// concurrent use: the session's mutex guards it.
type holdQueue struct {
	limit  int
	frames [][]byte
}

// push stores a copy of pkt; it reports false when the queue is full.
func (q *holdQueue) push(pkt []byte) bool {
	if len(q.frames) >= q.limit {
		return false
	}
	q.frames = append(q.frames, append([]byte(nil), pkt...))
	return true
}

// drain returns the held frames in arrival order and empties the queue.
func (q *holdQueue) drain() [][]byte {
	f := q.frames
	q.frames = nil
	return f
}

// len is the number of held frames.
func (q *holdQueue) len() int { return len(q.frames) }
