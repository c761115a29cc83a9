package telemetry

import (
	"errors"
	"log/slog"
)

// bridge forwards published telemetry upstream. TODO(telemetry): implement.
type bridge struct{}

func newBridge(BridgeConfig, string, *slog.Logger) (*bridge, error) {
	return nil, errors.New("telemetry: bridge not implemented yet")
}

func (b *bridge) start()                       {}
func (b *bridge) enqueue(string, []byte, bool) {}
func (b *bridge) close() error                 { return nil }

func (b *bridge) writeMetrics(promWriter) {}
