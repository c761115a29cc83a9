//go:build !linux

package tun

import (
	"fmt"
	"log/slog"

	"github.com/bngbox/bngbox/pkg/dataplane"
)

// Options configure a Dataplane.
type Options struct {
	Group         uint32
	HoldFrames    int
	NamePrefix    string
	KeepLeftovers bool
	SyncClose     bool
	MaxDeleting   int
	IdleDevices   int
}

// Dataplane is the userspace backend; it exists only on Linux.
type Dataplane struct{ dataplane.Dataplane }

// New returns an error wrapping dataplane.ErrUnsupported off Linux.
func New(log *slog.Logger, opts Options) (*Dataplane, error) {
	return nil, fmt.Errorf("tun: AF_PACKET and TUN need Linux: %w", dataplane.ErrUnsupported)
}
