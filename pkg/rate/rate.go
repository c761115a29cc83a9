// Package rate holds the per-session rate-limit value shared by AAA, the
// session layer and the shaper.
package rate

import "fmt"

// Rates are per-session limits in bits per second; 0 means unlimited.
// Bursts are in bytes; 0 lets the shaper derive one from the rate.
type Rates struct {
	Down      uint64 `json:"down_bps"`
	Up        uint64 `json:"up_bps"`
	DownBurst uint64 `json:"down_burst_bytes,omitempty"`
	UpBurst   uint64 `json:"up_burst_bytes,omitempty"`
}

// IsZero reports whether no limit is set.
func (r Rates) IsZero() bool { return r == Rates{} }

// String renders "10M/5M" style, down/up.
func (r Rates) String() string {
	if r.IsZero() {
		return "-"
	}
	return Format(r.Down) + "/" + Format(r.Up)
}

// Format renders bits/s with k/M/G suffixes, "-" for 0.
func Format(bps uint64) string {
	switch {
	case bps == 0:
		return "-"
	case bps%1_000_000_000 == 0:
		return fmt.Sprintf("%dG", bps/1_000_000_000)
	case bps%1_000_000 == 0:
		return fmt.Sprintf("%dM", bps/1_000_000)
	case bps%1_000 == 0:
		return fmt.Sprintf("%dk", bps/1_000)
	}
	return fmt.Sprintf("%d", bps)
}

// ParseBits parses a rate such as "10M", "512k", "1.5M", "2G" or "1000000"
// (bits per second; k=1e3, M=1e6, G=1e9, case-insensitive).
func ParseBits(s string) (uint64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty rate")
	}
	mult := 1.0
	num := s
	switch s[len(s)-1] {
	case 'k', 'K':
		mult, num = 1e3, s[:len(s)-1]
	case 'm', 'M':
		mult, num = 1e6, s[:len(s)-1]
	case 'g', 'G':
		mult, num = 1e9, s[:len(s)-1]
	}
	var v float64
	if _, err := fmt.Sscanf(num, "%g", &v); err != nil || v < 0 || v*mult > 1e12 {
		return 0, fmt.Errorf("bad rate %q: want a number with an optional k/M/G suffix", s)
	}
	if fmt.Sprint(v) != num && fmt.Sprintf("%g", v) != num {
		// reject trailing junk that Sscanf ignored ("10Mx", "1 0")
		if _, err := fmt.Sscanf(num+"\x00", "%g\x00", &v); err != nil {
			return 0, fmt.Errorf("bad rate %q: want a number with an optional k/M/G suffix", s)
		}
	}
	return uint64(v*mult + 0.5), nil
}

// Parse parses "down/up", for example "10M/5M".
func Parse(s string) (Rates, error) {
	var r Rates
	i := -1
	for j := range len(s) {
		if s[j] == '/' {
			i = j
			break
		}
	}
	if i < 0 {
		return r, fmt.Errorf("bad rates %q: want down/up, for example 10M/5M", s)
	}
	var err error
	if r.Down, err = ParseBits(s[:i]); err != nil {
		return r, err
	}
	if r.Up, err = ParseBits(s[i+1:]); err != nil {
		return r, err
	}
	return r, nil
}
