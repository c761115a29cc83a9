package telemetry

import (
	"errors"
	"time"
)

// BridgeConfig configures forwarding of the telemetry subtree to an
// upstream MQTT broker.
type BridgeConfig struct {
	// Address is the upstream broker, "host:port".
	Address string
	// ClientID defaults to "bngbox-<nas>".
	ClientID string
	// Username and Password are the bridge's own credentials upstream.
	Username, Password string
	// TLS enables TLS to the upstream; CAFile (PEM) replaces the system
	// roots, ServerName overrides the name checked in its certificate, and
	// CertFile/KeyFile present a client certificate.
	TLS                bool
	CAFile, ServerName string
	CertFile, KeyFile  string
	// QueuePath is the bbolt file of the on-disk queue (required).
	QueuePath string
	// QueueMax bounds the queue (messages, default 100000); when full the
	// oldest message is dropped and counted, and an alarm is logged.
	QueueMax int
	// RetryInterval is the pause between reconnect attempts, default 5s.
	RetryInterval time.Duration
}

func (b BridgeConfig) withDefaults() BridgeConfig {
	if b.QueueMax <= 0 {
		b.QueueMax = 100000
	}
	if b.RetryInterval <= 0 {
		b.RetryInterval = 5 * time.Second
	}
	return b
}

func (b BridgeConfig) validate() error {
	var errs []error
	if b.Address == "" {
		errs = append(errs, errors.New("telemetry: bridge: empty address"))
	}
	if b.QueuePath == "" {
		errs = append(errs, errors.New("telemetry: bridge: empty queue path"))
	}
	if (b.CertFile == "") != (b.KeyFile == "") {
		errs = append(errs, errors.New("telemetry: bridge: client certificate needs both cert and key"))
	}
	return errors.Join(errs...)
}
