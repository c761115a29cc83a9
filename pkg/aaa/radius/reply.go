package radius

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"layeh.com/radius"

	"github.com/bngbox/bngbox/pkg/aaa"
	"github.com/bngbox/bngbox/pkg/rate"
)

// RateConfig says which reply attributes carry rate limits besides the
// always-honoured RP-Upstream/Downstream-Speed-Limit and Mikrotik-Rate-Limit.
type RateConfig struct {
	// AttrUp and AttrDown name a dictionary attribute pair (accel-ppp style
	// attr-up/attr-down). Integer values are kbit/s; string values are
	// rates such as "10M" or "512k".
	AttrUp, AttrDown string
	// FilterID, when "down/up" or "up/down", reads Filter-Id values of that
	// form (for example "10M/5M") as rates. Empty: Filter-Id is only a name.
	FilterID string
}

// An Interpreter turns reply attributes (Access-Accept, CoA-Request) into
// authorization values. It is safe for concurrent use.
type Interpreter struct {
	dict            *Dictionary
	up, down        *AttrDef
	filterIDDownUp  bool
	filterIDUpDown  bool
	defaultInterval time.Duration
	log             *slog.Logger
}

// NewInterpreter resolves the rate attribute names in dict.
func NewInterpreter(dict *Dictionary, rc RateConfig, log *slog.Logger) (*Interpreter, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	in := &Interpreter{dict: dict, log: log}
	var errs []error
	if (rc.AttrUp == "") != (rc.AttrDown == "") {
		errs = append(errs, errors.New("radius: rate attr-up and attr-down must be set together"))
	}
	if rc.AttrUp != "" {
		var ok bool
		if in.up, ok = dict.Lookup(rc.AttrUp); !ok {
			errs = append(errs, fmt.Errorf("radius: rate attr-up %q is not in the dictionary", rc.AttrUp))
		}
		if in.down, ok = dict.Lookup(rc.AttrDown); !ok {
			errs = append(errs, fmt.Errorf("radius: rate attr-down %q is not in the dictionary", rc.AttrDown))
		}
	}
	switch rc.FilterID {
	case "":
	case "down/up":
		in.filterIDDownUp = true
	case "up/down":
		in.filterIDUpDown = true
	default:
		errs = append(errs, fmt.Errorf("radius: rate filter-id form %q: want down/up or up/down", rc.FilterID))
	}
	return in, errors.Join(errs...)
}

// attrRule interprets one reply attribute into r. It returns an error for
// a bad value; the caller logs it and ignores the attribute.
type attrRule struct {
	name   string
	vendor uint32
	typ    byte
	apply  func(in *Interpreter, v []byte, r *aaa.Reply) error
}

// replyRules is the table of Access-Accept attributes honoured (RFC 2865
// §5, RFC 2869 §5.16, RFC 2548 §2.7, vendor dictionaries). Later rate
// sources override earlier ones: RP, then Mikrotik, then Filter-Id, then
// the configured pair.
var replyRules = []attrRule{
	{"Reply-Message", 0, byte(attrReplyMessage), func(_ *Interpreter, v []byte, r *aaa.Reply) error {
		if r.Message != "" {
			r.Message += "\n"
		}
		r.Message += string(v)
		return nil
	}},
	{"Framed-IP-Address", 0, byte(attrFramedIPAddress), func(_ *Interpreter, v []byte, r *aaa.Reply) error {
		a, err := ipv4(v)
		if err != nil {
			return err
		}
		// RFC 2865 §5.8: 255.255.255.254 = NAS selects (pool), .255 = user selects.
		if a == netip.AddrFrom4([4]byte{255, 255, 255, 254}) || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return nil
		}
		r.FramedIP = a
		return nil
	}},
	{"Framed-Pool", 0, byte(attrFramedPool), func(_ *Interpreter, v []byte, r *aaa.Reply) error {
		r.Pool = string(v)
		return nil
	}},
	{"Framed-Route", 0, byte(attrFramedRoute), func(_ *Interpreter, v []byte, r *aaa.Reply) error {
		p, err := parseFramedRoute(string(v))
		if err != nil {
			return err
		}
		r.Routes = append(r.Routes, p)
		return nil
	}},
	{"Session-Timeout", 0, byte(attrSessionTimeout), func(_ *Interpreter, v []byte, r *aaa.Reply) error {
		return seconds(v, &r.SessionTimeout)
	}},
	{"Idle-Timeout", 0, byte(attrIdleTimeout), func(_ *Interpreter, v []byte, r *aaa.Reply) error {
		return seconds(v, &r.IdleTimeout)
	}},
	{"Acct-Interim-Interval", 0, byte(attrAcctInterimInterval), func(_ *Interpreter, v []byte, r *aaa.Reply) error {
		var d time.Duration
		if err := seconds(v, &d); err != nil {
			return err
		}
		if d < 60*time.Second { // RFC 2869 §5.16: SHOULD NOT be smaller than 60
			return fmt.Errorf("interval %v below the RFC 2869 minimum of 60s", d)
		}
		r.InterimInterval = d
		return nil
	}},
	{"Filter-Id", 0, byte(attrFilterID), func(in *Interpreter, v []byte, r *aaa.Reply) error {
		r.FilterID = string(v)
		if !in.filterIDDownUp && !in.filterIDUpDown {
			return nil
		}
		rt, err := rate.Parse(string(v))
		if err != nil {
			return nil // a plain filter name, not a rate
		}
		if in.filterIDUpDown {
			rt.Down, rt.Up = rt.Up, rt.Down
		}
		r.Rates.Down, r.Rates.Up = rt.Down, rt.Up
		return nil
	}},
	{"Class", 0, byte(attrClass), func(_ *Interpreter, v []byte, r *aaa.Reply) error {
		r.Class = append(r.Class, append([]byte(nil), v...))
		return nil
	}},
	{"MS-Primary-DNS-Server", VendorMicrosoft, 28, addDNS},
	{"MS-Secondary-DNS-Server", VendorMicrosoft, 29, addDNS},
	{"RP-Upstream-Speed-Limit", VendorRoaringPenguin, 1, func(_ *Interpreter, v []byte, r *aaa.Reply) error {
		return kbits(v, &r.Rates.Up)
	}},
	{"RP-Downstream-Speed-Limit", VendorRoaringPenguin, 2, func(_ *Interpreter, v []byte, r *aaa.Reply) error {
		return kbits(v, &r.Rates.Down)
	}},
	{"Mikrotik-Rate-Limit", VendorMikrotik, 8, func(_ *Interpreter, v []byte, r *aaa.Reply) error {
		rt, err := ParseMikrotikRateLimit(string(v))
		if err != nil {
			return err
		}
		r.Rates.Down, r.Rates.Up = rt.Down, rt.Up
		return nil
	}},
}

// Interpret fills a Reply from Access-Accept attributes. Values that do not
// parse are logged (with the attribute name and value) and ignored.
func (in *Interpreter) Interpret(attrs radius.Attributes) *aaa.Reply {
	r := &aaa.Reply{InterimInterval: in.defaultInterval}
	in.apply(attrs, r, func(rule string, v []byte, err error) {
		in.log.Error("radius: ignoring bad reply attribute", "attr", rule, "value", fmt.Sprintf("%q", v), slog.Any("err", err))
	})
	return r
}

// apply runs the rule table and the configured rate pair over attrs.
func (in *Interpreter) apply(attrs radius.Attributes, r *aaa.Reply, bad func(rule string, v []byte, err error)) {
	for i := range replyRules {
		rule := &replyRules[i]
		for _, v := range values(attrs, rule.vendor, rule.typ) {
			if err := rule.apply(in, v, r); err != nil {
				bad(rule.name, v, err)
			}
		}
	}
	if in.up != nil {
		for _, p := range []struct {
			def *AttrDef
			dst *uint64
		}{{in.up, &r.Rates.Up}, {in.down, &r.Rates.Down}} {
			if v, ok := attrValue(attrs, p.def); ok {
				if err := configuredRate(p.def, v, p.dst); err != nil {
					bad(p.def.Name, v, err)
				}
			}
		}
	}
}

// values returns every value of (vendor, typ) in attrs.
func values(attrs radius.Attributes, vendor uint32, typ byte) [][]byte {
	var out [][]byte
	for _, avp := range attrs {
		if vendor == 0 {
			if avp.Type == radius.Type(typ) {
				out = append(out, avp.Attribute)
			}
			continue
		}
		if avp.Type == attrVendorSpecific {
			if v, ok := vsaIn(avp.Attribute, vendor, typ); ok {
				out = append(out, v)
			}
		}
	}
	return out
}

func configuredRate(def *AttrDef, v []byte, dst *uint64) error {
	if def.Data == TypeInteger {
		return kbits(v, dst)
	}
	b, err := rate.ParseBits(strings.TrimSpace(string(v)))
	if err != nil {
		return err
	}
	*dst = b
	return nil
}

func addDNS(_ *Interpreter, v []byte, r *aaa.Reply) error {
	a, err := ipv4(v)
	if err != nil {
		return err
	}
	r.DNS = append(r.DNS, a)
	return nil
}

func ipv4(v []byte) (netip.Addr, error) {
	if len(v) != 4 {
		return netip.Addr{}, fmt.Errorf("want a 4-octet IPv4 address, have %d octets", len(v))
	}
	return netip.AddrFrom4([4]byte(v)), nil
}

func integer(v []byte) (uint32, error) {
	if len(v) != 4 {
		return 0, fmt.Errorf("want a 4-octet integer, have %d octets", len(v))
	}
	return binary.BigEndian.Uint32(v), nil
}

func seconds(v []byte, d *time.Duration) error {
	n, err := integer(v)
	if err != nil {
		return err
	}
	*d = time.Duration(n) * time.Second
	return nil
}

func kbits(v []byte, dst *uint64) error {
	n, err := integer(v)
	if err != nil {
		return err
	}
	*dst = uint64(n) * 1000
	return nil
}

// parseFramedRoute parses the destination of an RFC 2865 §5.22 Framed-Route
// ("192.0.2.0/24 0.0.0.0 1", "192.0.2.0 255.255.255.0 ...").
func parseFramedRoute(s string) (netip.Prefix, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return netip.Prefix{}, errors.New("empty Framed-Route")
	}
	if p, err := netip.ParsePrefix(f[0]); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(f[0])
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad Framed-Route destination %q", f[0])
	}
	bits := a.BitLen()
	if len(f) > 1 {
		if m, err := netip.ParseAddr(f[1]); err == nil && m.Is4() && a.Is4() {
			mb := binary.BigEndian.Uint32(m.AsSlice())
			ones := 0
			for mb&0x80000000 != 0 {
				ones++
				mb <<= 1
			}
			if mb != 0 {
				return netip.Prefix{}, fmt.Errorf("bad Framed-Route netmask %q", f[1])
			}
			bits = ones
		} else if n, err := fmt.Sscanf(f[1], "%d", &bits); n == 1 && err == nil && (bits < 0 || bits > a.BitLen()) {
			return netip.Prefix{}, fmt.Errorf("bad Framed-Route prefix length %q", f[1])
		}
	}
	return a.Prefix(bits)
}

// ParseMikrotikRateLimit parses the first field of a Mikrotik-Rate-Limit
// value, "rx-rate[/tx-rate] [bursts...]", with k/M/G suffixes. rx is what
// the router receives, i.e. the subscriber's upload; a missing tx equals rx.
// Burst, threshold, time and priority fields are accepted and ignored.
func ParseMikrotikRateLimit(s string) (rate.Rates, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return rate.Rates{}, errors.New("empty Mikrotik-Rate-Limit")
	}
	rx, tx, two := strings.Cut(f[0], "/")
	up, err := rate.ParseBits(rx)
	if err != nil {
		return rate.Rates{}, fmt.Errorf("Mikrotik-Rate-Limit rx: %w", err)
	}
	down := up
	if two {
		if down, err = rate.ParseBits(tx); err != nil {
			return rate.Rates{}, fmt.Errorf("Mikrotik-Rate-Limit tx: %w", err)
		}
	}
	return rate.Rates{Down: down, Up: up}, nil
}
