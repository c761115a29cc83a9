package tun

import "sync/atomic"

// dropReason is why a port dropped a frame.
type dropReason int

const (
	dropShort dropReason = iota
	dropTooManyTags
	dropBadVersion
	dropBadCode
	dropBadLength
	dropBadProto
	dropUnknownSession
	dropNoDiscovery
	dropNoControl
	dropHoldOverflow
	dropTUNWrite
	dropNotIP
	dropWrite
	numDropReasons
)

var dropNames = [numDropReasons]string{
	dropShort:          "short",
	dropTooManyTags:    "too_many_tags",
	dropBadVersion:     "bad_version",
	dropBadCode:        "bad_code",
	dropBadLength:      "bad_length",
	dropBadProto:       "bad_ppp_protocol",
	dropUnknownSession: "unknown_session",
	dropNoDiscovery:    "no_discovery_handler",
	dropNoControl:      "no_control_handler",
	dropHoldOverflow:   "hold_overflow",
	dropTUNWrite:       "tun_write",
	dropNotIP:          "tun_not_ip",
	dropWrite:          "port_write",
}

func (r dropReason) String() string { return dropNames[r] }

// parseDrop maps a parser error to its drop reason.
func parseDrop(err error) dropReason {
	switch err {
	case errTooManyTag:
		return dropTooManyTags
	case errVersion:
		return dropBadVersion
	case errCode:
		return dropBadCode
	case errLength:
		return dropBadLength
	case errProto:
		return dropBadProto
	}
	return dropShort
}

// dropCounters counts drops by reason.
type dropCounters [numDropReasons]atomic.Uint64

func (d *dropCounters) add(r dropReason) { d[r].Add(1) }

// snapshot returns the non-zero counters by name.
func (d *dropCounters) snapshot() map[string]uint64 {
	m := make(map[string]uint64)
	for i := range d {
		if v := d[i].Load(); v != 0 {
			m[dropNames[i]] = v
		}
	}
	return m
}
