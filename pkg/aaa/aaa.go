// Package aaa is authentication, authorization and accounting: the
// interfaces the session layer calls, the local users file, and (in
// pkg/aaa/radius) the RADIUS client.
package aaa

import (
	"context"
	"net/netip"
	"time"

	"github.com/bngbox/bngbox/pkg/dataplane"
	"github.com/bngbox/bngbox/pkg/rate"
)

// Method is how the subscriber authenticated.
type Method int

const (
	PAP Method = iota + 1
	CHAP
)

func (m Method) String() string {
	switch m {
	case PAP:
		return "pap"
	case CHAP:
		return "chap"
	}
	return "none"
}

// PortType is RFC 2865 NAS-Port-Type.
type PortType uint32

const (
	PortVirtual  PortType = 5  // L2TP
	PortEthernet PortType = 15 // PPPoE
)

// Request is one authentication request.
type Request struct {
	SessionID string // Acct-Session-Id, unique across restarts
	User      string
	Method    Method
	Password  string // PAP
	ChapID    byte   // CHAP identifier
	Challenge []byte // CHAP challenge we sent
	Response  []byte // CHAP 16-byte MD5 response

	CallingStationID string // subscriber MAC (PPPoE) or LAC's Calling-Number
	CalledStationID  string
	NASPortID        string // e.g. "eth1:100.200"
	NASPort          uint32
	PortType         PortType
	Tunnel           *Tunnel // L2TP only
}

// Tunnel describes the L2TP tunnel a session arrived in (RFC 2867/2868).
type Tunnel struct {
	ClientEndpoint, ServerEndpoint string
	ClientAuthID, ServerAuthID     string
	TunnelID, SessionID            uint16
}

// Reply is the authorization a successful authentication grants.
type Reply struct {
	Message         string // Reply-Message (sent back in PAP/CHAP failure too)
	FramedIP        netip.Addr
	Pool            string
	Routes          []netip.Prefix
	DNS             []netip.Addr
	SessionTimeout  time.Duration
	IdleTimeout     time.Duration
	InterimInterval time.Duration
	Rates           rate.Rates
	FilterID        string
	Class           [][]byte
}

// Reject is the error an Authenticator returns when the credentials are
// refused (as opposed to the AAA backend being unreachable).
type Reject struct{ Message string }

func (r *Reject) Error() string {
	if r.Message == "" {
		return "authentication rejected"
	}
	return "authentication rejected: " + r.Message
}

// Authenticator checks credentials. It returns a *Reject for refused
// credentials and any other error when no decision could be made.
type Authenticator interface {
	Authenticate(ctx context.Context, req *Request) (*Reply, error)
}

// AcctType is RFC 2866 Acct-Status-Type.
type AcctType uint32

const (
	AcctStart   AcctType = 1
	AcctStop    AcctType = 2
	AcctInterim AcctType = 3
	AcctOn      AcctType = 7
	AcctOff     AcctType = 8
)

func (t AcctType) String() string {
	switch t {
	case AcctStart:
		return "start"
	case AcctStop:
		return "stop"
	case AcctInterim:
		return "interim"
	case AcctOn:
		return "accounting-on"
	case AcctOff:
		return "accounting-off"
	}
	return "unknown"
}

// TerminateCause is RFC 2866 Acct-Terminate-Cause.
type TerminateCause uint32

const (
	CauseUserRequest        TerminateCause = 1
	CauseLostCarrier        TerminateCause = 2
	CauseLostService        TerminateCause = 3
	CauseIdleTimeout        TerminateCause = 4
	CauseSessionTimeout     TerminateCause = 5
	CauseAdminReset         TerminateCause = 6
	CauseAdminReboot        TerminateCause = 7
	CausePortError          TerminateCause = 8
	CauseNASError           TerminateCause = 9
	CauseNASRequest         TerminateCause = 10
	CauseNASReboot          TerminateCause = 11
	CauseServiceUnavailable TerminateCause = 15
	CauseUserError          TerminateCause = 17
)

var causeNames = map[TerminateCause]string{
	CauseUserRequest: "User-Request", CauseLostCarrier: "Lost-Carrier", CauseLostService: "Lost-Service",
	CauseIdleTimeout: "Idle-Timeout", CauseSessionTimeout: "Session-Timeout", CauseAdminReset: "Admin-Reset",
	CauseAdminReboot: "Admin-Reboot", CausePortError: "Port-Error", CauseNASError: "NAS-Error",
	CauseNASRequest: "NAS-Request", CauseNASReboot: "NAS-Reboot", CauseServiceUnavailable: "Service-Unavailable", CauseUserError: "User-Error",
}

func (c TerminateCause) String() string {
	if s, ok := causeNames[c]; ok {
		return s
	}
	return "Unknown"
}

// AcctRecord is one accounting record.
type AcctRecord struct {
	Type        AcctType
	Time        time.Time // Event-Timestamp
	Request     *Request  // the session's authentication request (identity, ports)
	Reply       *Reply    // the authorization (Class, Framed-IP)
	FramedIP    netip.Addr
	SessionTime time.Duration
	Stats       dataplane.Stats
	Cause       TerminateCause // Stop only
}

// Accounter takes accounting records. Account must not block for long: an
// implementation queues (and, for RADIUS, spools to disk) and returns.
type Accounter interface {
	Account(rec *AcctRecord) error
}
