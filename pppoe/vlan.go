package pppoe

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrVLANSpec is returned (wrapped) by ParseVLANSet.
var ErrVLANSpec = errors.New("pppoe: bad VLAN spec")

type vidRange struct{ lo, hi uint16 }

func (r vidRange) has(v uint16) bool { return r.lo <= v && v <= r.hi }

// A VLANSet is a set of VLAN tag stacks a port serves: untagged frames,
// single-tagged frames with VIDs in ranges, double-tagged (QinQ) frames with
// outer and inner VIDs in ranges. The zero VLANSet contains nothing.
type VLANSet struct {
	untagged bool
	single   []vidRange
	double   [][2]vidRange // outer, inner
}

// ParseVLANSet parses specs such as
//
//	"untagged"       frames without a tag
//	"100", "100-199" single-tagged, VID in range
//	"100.200-299"    QinQ: outer 100, inner 200..299
//	"*", "7.*"       any VID (1..4094) in that position
//
// VIDs are 0..4095 (0 is a priority tag).
func ParseVLANSet(specs ...string) (VLANSet, error) {
	var s VLANSet
	for _, spec := range specs {
		spec = strings.TrimSpace(spec)
		if spec == "untagged" {
			s.untagged = true
			continue
		}
		outer, inner, qinq := strings.Cut(spec, ".")
		o, err := parseVIDRange(outer)
		if err != nil {
			return VLANSet{}, fmt.Errorf("%w %q: %w", ErrVLANSpec, spec, err)
		}
		if !qinq {
			s.single = append(s.single, o)
			continue
		}
		i, err := parseVIDRange(inner)
		if err != nil {
			return VLANSet{}, fmt.Errorf("%w %q: %w", ErrVLANSpec, spec, err)
		}
		s.double = append(s.double, [2]vidRange{o, i})
	}
	return s, nil
}

func parseVIDRange(s string) (vidRange, error) {
	if s == "*" {
		return vidRange{1, 4094}, nil
	}
	lo, hi, isRange := strings.Cut(s, "-")
	l, err := parseVID(lo)
	if err != nil {
		return vidRange{}, err
	}
	h := l
	if isRange {
		if h, err = parseVID(hi); err != nil {
			return vidRange{}, err
		}
		if h < l {
			return vidRange{}, fmt.Errorf("empty range %d-%d", l, h)
		}
	}
	return vidRange{l, h}, nil
}

func parseVID(s string) (uint16, error) {
	v, err := strconv.ParseUint(s, 10, 16)
	if err != nil || v > 4095 {
		return 0, fmt.Errorf("bad VID %q", s)
	}
	return uint16(v), nil
}

// Contains reports whether the tag stack vlans (outer first) is in s.
func (s *VLANSet) Contains(vlans []uint16) bool {
	switch len(vlans) {
	case 0:
		return s.untagged
	case 1:
		for _, r := range s.single {
			if r.has(vlans[0]) {
				return true
			}
		}
	case 2:
		for _, r := range s.double {
			if r[0].has(vlans[0]) && r[1].has(vlans[1]) {
				return true
			}
		}
	}
	return false
}
