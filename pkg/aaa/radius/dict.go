package radius

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DataType is an attribute's value type as written in a dictionary.
type DataType string

// Data types the interpretation code understands. Others (tlv, struct,
// combo-ip, ...) are accepted and kept as octets.
const (
	TypeString  DataType = "string"
	TypeOctets  DataType = "octets"
	TypeInteger DataType = "integer"
	TypeIPAddr  DataType = "ipaddr"
	TypeDate    DataType = "date"
)

// An AttrDef is one ATTRIBUTE line: a name bound to a (vendor, type) pair.
type AttrDef struct {
	Name   string
	Vendor uint32 // 0 for standard attributes
	Type   byte
	Data   DataType
	Values map[string]uint32 // VALUE names, integer attributes only
}

// A Dictionary maps attribute names to definitions. The zero value is
// empty; use NewDictionary for one holding the built-in attributes.
type Dictionary struct {
	vendors map[string]uint32
	byName  map[string]*AttrDef // key: lower-case name
	byCode  map[[2]uint32]*AttrDef
}

// ErrDictionary is wrapped by every dictionary parse error.
var ErrDictionary = errors.New("radius: dictionary")

// NewDictionary returns a dictionary holding the built-in standard (RFC 2865,
// 2866, 2868, 2869, 5176) and vendor (Roaring Penguin, Mikrotik, Microsoft)
// attributes this package uses.
func NewDictionary() *Dictionary {
	d := &Dictionary{}
	if err := d.Parse("builtin", []byte(builtinDictionary), nil); err != nil {
		panic(err) // the built-in text is a constant
	}
	return d
}

// Lookup returns the definition of a name (case-insensitive).
func (d *Dictionary) Lookup(name string) (*AttrDef, bool) {
	a, ok := d.byName[strings.ToLower(name)]
	return a, ok
}

// ByCode returns the definition of a (vendor, type) pair.
func (d *Dictionary) ByCode(vendor uint32, typ byte) (*AttrDef, bool) {
	a, ok := d.byCode[[2]uint32{vendor, uint32(typ)}]
	return a, ok
}

// Len returns the number of attribute definitions.
func (d *Dictionary) Len() int { return len(d.byName) }

// LoadFile parses a FreeRADIUS-format dictionary file into d, following
// $INCLUDE (relative to the including file; a leading "-" makes the include
// optional, as in FreeRADIUS).
func (d *Dictionary) LoadFile(path string) error {
	return d.loadFile(path, 0)
}

func (d *Dictionary) loadFile(path string, depth int) error {
	if depth > 8 {
		return fmt.Errorf("%w: %s: $INCLUDE nested too deep", ErrDictionary, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDictionary, err)
	}
	return d.Parse(path, b, func(name string, optional bool) error {
		if !filepath.IsAbs(name) {
			name = filepath.Join(filepath.Dir(path), name)
		}
		err := d.loadFile(name, depth+1)
		if optional && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	})
}

// Parse parses dictionary text (FreeRADIUS format: VENDOR, BEGIN-VENDOR,
// END-VENDOR, ATTRIBUTE name number type [flags], VALUE attr name number,
// $INCLUDE) into d. file names the text in errors ("file:line: ..."). include
// is called for $INCLUDE lines; nil makes them an error. On error d may hold
// the definitions parsed before the bad line.
func (d *Dictionary) Parse(file string, text []byte, include func(name string, optional bool) error) error {
	if d.byName == nil {
		d.byName = make(map[string]*AttrDef)
		d.byCode = make(map[[2]uint32]*AttrDef)
		d.vendors = make(map[string]uint32)
	}
	ps := &dictParser{d: d, include: include}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	line := 0
	errf := func(err error) error {
		return fmt.Errorf("%w: %s:%d: %w", ErrDictionary, file, line, err)
	}
	for sc.Scan() {
		line++
		s := sc.Text()
		if i := strings.IndexByte(s, '#'); i >= 0 {
			s = s[:i]
		}
		if f := strings.Fields(s); len(f) > 0 {
			if err := ps.line(f); err != nil {
				if errors.Is(err, ErrDictionary) {
					return err // from an included file: already located
				}
				return errf(err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return errf(err)
	}
	if ps.inVendor != "" {
		return errf(fmt.Errorf("BEGIN-VENDOR %s not closed", ps.inVendor))
	}
	return nil
}

// dictParser is the state of one Parse call.
type dictParser struct {
	d        *Dictionary
	include  func(name string, optional bool) error
	vendor   uint32 // inside BEGIN-VENDOR
	inVendor string
}

// line handles one non-empty line, split into fields.
func (ps *dictParser) line(f []string) error {
	switch strings.ToUpper(f[0]) {
	case "VENDOR":
		return ps.vendorLine(f)
	case "BEGIN-VENDOR":
		if len(f) < 2 {
			return errors.New("BEGIN-VENDOR needs a vendor name")
		}
		if ps.inVendor != "" {
			return fmt.Errorf("BEGIN-VENDOR %s inside BEGIN-VENDOR %s", f[1], ps.inVendor)
		}
		v, ok := ps.d.vendors[strings.ToLower(f[1])]
		if !ok {
			return fmt.Errorf("unknown vendor %q", f[1])
		}
		ps.vendor, ps.inVendor = v, f[1]
	case "END-VENDOR":
		if ps.inVendor == "" || len(f) < 2 || !strings.EqualFold(f[1], ps.inVendor) {
			return fmt.Errorf("END-VENDOR does not match BEGIN-VENDOR %q", ps.inVendor)
		}
		ps.vendor, ps.inVendor = 0, ""
	case "ATTRIBUTE":
		return ps.d.parseAttribute(f, ps.vendor)
	case "VALUE":
		return ps.valueLine(f)
	case "$INCLUDE", "$INCLUDE-":
		if len(f) < 2 {
			return errors.New("$INCLUDE needs a file name")
		}
		if ps.include == nil {
			return errors.New("$INCLUDE not allowed here")
		}
		return ps.include(f[1], strings.HasSuffix(f[0], "-"))
	case "PROTOCOL", "BEGIN-PROTOCOL", "END-PROTOCOL", "BEGIN-TLV", "END-TLV", "FLAGS":
		// FreeRADIUS v4 / TLV syntax: not needed for the attributes we use.
	default:
		return fmt.Errorf("unknown keyword %q", f[0])
	}
	return nil
}

func (ps *dictParser) vendorLine(f []string) error {
	if len(f) < 3 {
		return errors.New("VENDOR needs a name and a number")
	}
	n, err := strconv.ParseUint(f[2], 0, 32)
	if err != nil {
		return fmt.Errorf("bad vendor number %q", f[2])
	}
	// Only the standard format=1,1 is supported; FreeRADIUS marks others
	// with a "format=" flag.
	if len(f) > 3 && strings.HasPrefix(f[3], "format=") && f[3] != "format=1,1" {
		return fmt.Errorf("vendor %s: unsupported %s", f[1], f[3])
	}
	ps.d.vendors[strings.ToLower(f[1])] = uint32(n)
	return nil
}

func (ps *dictParser) valueLine(f []string) error {
	if len(f) < 4 {
		return errors.New("VALUE needs an attribute, a name and a number")
	}
	a, ok := ps.d.Lookup(f[1])
	if !ok {
		return fmt.Errorf("VALUE for unknown attribute %q", f[1])
	}
	n, err := strconv.ParseUint(f[3], 0, 32)
	if err != nil {
		return fmt.Errorf("bad VALUE number %q", f[3])
	}
	if a.Values == nil {
		a.Values = make(map[string]uint32)
	}
	a.Values[strings.ToLower(f[2])] = uint32(n)
	return nil
}

func (d *Dictionary) parseAttribute(f []string, vendor uint32) error {
	if len(f) < 4 {
		return errors.New("ATTRIBUTE needs a name, a number and a type")
	}
	n, err := strconv.ParseUint(f[2], 0, 8)
	if err != nil || n == 0 {
		return fmt.Errorf("attribute %s: bad number %q (want 1-255)", f[1], f[2])
	}
	dt := DataType(strings.ToLower(f[3]))
	if i := strings.IndexByte(string(dt), '['); i >= 0 { // octets[16]
		dt = dt[:i]
	}
	if len(f) > 4 {
		// Flags such as "encrypt=1,has_tag"; a trailing vendor name (old
		// FreeRADIUS style) selects the vendor.
		if v, ok := d.vendors[strings.ToLower(f[4])]; ok {
			vendor = v
		}
	}
	a := &AttrDef{Name: f[1], Vendor: vendor, Type: byte(n), Data: dt}
	d.byName[strings.ToLower(f[1])] = a
	key := [2]uint32{vendor, uint32(n)}
	if _, dup := d.byCode[key]; !dup {
		d.byCode[key] = a // the first name for a code is canonical (aliases follow)
	}
	return nil
}

// Vendor IDs of the vendor-specific attributes this package interprets.
const (
	VendorMicrosoft      = 311
	VendorRoaringPenguin = 10055
	VendorMikrotik       = 14988
)

// builtinDictionary holds the standard attributes by name (so the
// configurable rate attributes may name any of them) plus the vendor
// attributes interpreted in reply.go.
const builtinDictionary = `
ATTRIBUTE User-Name 1 string
ATTRIBUTE User-Password 2 string encrypt=1
ATTRIBUTE CHAP-Password 3 octets
ATTRIBUTE NAS-IP-Address 4 ipaddr
ATTRIBUTE NAS-Port 5 integer
ATTRIBUTE Service-Type 6 integer
ATTRIBUTE Framed-Protocol 7 integer
ATTRIBUTE Framed-IP-Address 8 ipaddr
ATTRIBUTE Framed-IP-Netmask 9 ipaddr
ATTRIBUTE Filter-Id 11 string
ATTRIBUTE Framed-MTU 12 integer
ATTRIBUTE Reply-Message 18 string
ATTRIBUTE Framed-Route 22 string
ATTRIBUTE State 24 octets
ATTRIBUTE Class 25 octets
ATTRIBUTE Vendor-Specific 26 octets
ATTRIBUTE Session-Timeout 27 integer
ATTRIBUTE Idle-Timeout 28 integer
ATTRIBUTE Called-Station-Id 30 string
ATTRIBUTE Calling-Station-Id 31 string
ATTRIBUTE NAS-Identifier 32 string
ATTRIBUTE Proxy-State 33 octets
ATTRIBUTE Acct-Status-Type 40 integer
ATTRIBUTE Acct-Delay-Time 41 integer
ATTRIBUTE Acct-Input-Octets 42 integer
ATTRIBUTE Acct-Output-Octets 43 integer
ATTRIBUTE Acct-Session-Id 44 string
ATTRIBUTE Acct-Authentic 45 integer
ATTRIBUTE Acct-Session-Time 46 integer
ATTRIBUTE Acct-Input-Packets 47 integer
ATTRIBUTE Acct-Output-Packets 48 integer
ATTRIBUTE Acct-Terminate-Cause 49 integer
ATTRIBUTE Acct-Multi-Session-Id 50 string
ATTRIBUTE Acct-Input-Gigawords 52 integer
ATTRIBUTE Acct-Output-Gigawords 53 integer
ATTRIBUTE Event-Timestamp 55 date
ATTRIBUTE CHAP-Challenge 60 octets
ATTRIBUTE NAS-Port-Type 61 integer
ATTRIBUTE Port-Limit 62 integer
ATTRIBUTE Tunnel-Type 64 integer has_tag
ATTRIBUTE Tunnel-Medium-Type 65 integer has_tag
ATTRIBUTE Tunnel-Client-Endpoint 66 string has_tag
ATTRIBUTE Tunnel-Server-Endpoint 67 string has_tag
ATTRIBUTE Message-Authenticator 80 octets
ATTRIBUTE Tunnel-Assignment-Id 82 string has_tag
ATTRIBUTE Acct-Interim-Interval 85 integer
ATTRIBUTE NAS-Port-Id 87 string
ATTRIBUTE Framed-Pool 88 string
ATTRIBUTE Tunnel-Client-Auth-Id 90 string has_tag
ATTRIBUTE Tunnel-Server-Auth-Id 91 string has_tag
ATTRIBUTE Error-Cause 101 integer

VENDOR Microsoft 311
BEGIN-VENDOR Microsoft
ATTRIBUTE MS-Primary-DNS-Server 28 ipaddr
ATTRIBUTE MS-Secondary-DNS-Server 29 ipaddr
END-VENDOR Microsoft

VENDOR Roaring-Penguin 10055
BEGIN-VENDOR Roaring-Penguin
ATTRIBUTE RP-Upstream-Speed-Limit 1 integer
ATTRIBUTE RP-Downstream-Speed-Limit 2 integer
END-VENDOR Roaring-Penguin

VENDOR Mikrotik 14988
BEGIN-VENDOR Mikrotik
ATTRIBUTE Mikrotik-Recv-Limit 1 integer
ATTRIBUTE Mikrotik-Xmit-Limit 2 integer
ATTRIBUTE Mikrotik-Rate-Limit 8 string
END-VENDOR Mikrotik
`
