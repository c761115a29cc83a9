//go:build !linux

package dataplane

import "fmt"

// ProbeKernel always fails off Linux.
func ProbeKernel() error {
	return fmt.Errorf("dataplane: kernel backend needs Linux: %w", ErrUnsupported)
}
