//go:build !linux

package shaper

import (
	"context"
	"fmt"

	"github.com/bngbox/bngbox/pkg/rate"
)

// Netlink is the Linux Shaper; elsewhere New fails with ErrNotSupported.
type Netlink struct{}

var _ Shaper = (*Netlink)(nil)

// New returns ErrNotSupported outside Linux.
func New(cfg Config) (*Netlink, error) {
	return nil, fmt.Errorf("%w: tc shaping needs Linux", ErrNotSupported)
}

// Mode returns UpstreamAuto.
func (n *Netlink) Mode() Upstream { return UpstreamAuto }

// Set returns ErrNotSupported.
func (n *Netlink) Set(context.Context, string, rate.Rates) error { return ErrNotSupported }

// Clear returns ErrNotSupported.
func (n *Netlink) Clear(context.Context, string) error { return ErrNotSupported }

// Stats returns zero counters.
func (n *Netlink) Stats() Stats { return Stats{} }

// Close does nothing.
func (n *Netlink) Close() error { return nil }
