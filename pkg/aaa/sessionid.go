package aaa

import (
	"fmt"
	"sync/atomic"
	"time"
)

// SessionIDs makes Acct-Session-Ids unique across restarts: 16 hex digits,
// the start time in seconds (32 bits) then a counter (32 bits). A restart
// within the same second as the previous start would repeat IDs only if the
// previous run made none, which a start takes more than a second to allow.
type SessionIDs struct {
	epoch uint32
	n     atomic.Uint32
}

// NewSessionIDs starts a generator at now.
func NewSessionIDs(now time.Time) *SessionIDs {
	return &SessionIDs{epoch: uint32(now.Unix())}
}

// Next returns a new ID.
func (g *SessionIDs) Next() string {
	return fmt.Sprintf("%08x%08x", g.epoch, g.n.Add(1))
}
