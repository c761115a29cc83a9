//go:build !linux

package kernel

import (
	"log/slog"

	"github.com/bngbox/bngbox/pkg/dataplane"
)

// Dataplane is the kernel backend; it exists on Linux only.
type Dataplane struct{ dataplane.Dataplane }

// New returns an error wrapping dataplane.ErrUnsupported.
func New(log *slog.Logger) (*Dataplane, error) {
	return nil, dataplane.ErrUnsupported
}
