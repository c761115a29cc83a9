package radius

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestDictionaryParse(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		lookup  string
		want    AttrDef
		wantErr bool
	}{
		{
			name:   "vendor block",
			text:   "VENDOR Acme 9999\nBEGIN-VENDOR Acme\nATTRIBUTE Acme-Up 1 integer # kbit/s\nEND-VENDOR Acme\n",
			lookup: "acme-up",
			want:   AttrDef{Name: "Acme-Up", Vendor: 9999, Type: 1, Data: TypeInteger},
		},
		{
			name:   "old style trailing vendor",
			text:   "VENDOR Acme 9999\nATTRIBUTE Acme-Down 2 string Acme\n",
			lookup: "Acme-Down",
			want:   AttrDef{Name: "Acme-Down", Vendor: 9999, Type: 2, Data: TypeString},
		},
		{
			name:   "standard with flags and values",
			text:   "ATTRIBUTE My-Type 240 integer has_tag\nVALUE My-Type Gold 3\n",
			lookup: "My-Type",
			want:   AttrDef{Name: "My-Type", Type: 240, Data: TypeInteger, Values: map[string]uint32{"gold": 3}},
		},
		{
			name:   "octets with size",
			text:   "ATTRIBUTE Blob 241 octets[16]\n",
			lookup: "Blob",
			want:   AttrDef{Name: "Blob", Type: 241, Data: TypeOctets},
		},
		{name: "unknown keyword", text: "ATTRIBUT X 1 string\n", wantErr: true},
		{name: "bad number", text: "ATTRIBUTE X 256 string\n", wantErr: true},
		{name: "zero number", text: "ATTRIBUTE X 0 string\n", wantErr: true},
		{name: "unknown vendor", text: "BEGIN-VENDOR Nope\n", wantErr: true},
		{name: "unclosed vendor", text: "VENDOR A 1\nBEGIN-VENDOR A\n", wantErr: true},
		{name: "mismatched end", text: "VENDOR A 1\nBEGIN-VENDOR A\nEND-VENDOR B\n", wantErr: true},
		{name: "nested vendor", text: "VENDOR A 1\nVENDOR B 2\nBEGIN-VENDOR A\nBEGIN-VENDOR B\n", wantErr: true},
		{name: "value for unknown", text: "VALUE Nope X 1\n", wantErr: true},
		{name: "unsupported vendor format", text: "VENDOR A 1 format=2,1\n", wantErr: true},
		{name: "include without loader", text: "$INCLUDE other\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Dictionary
			err := d.Parse("test", []byte(tt.text), nil)
			if tt.wantErr {
				if !errors.Is(err, ErrDictionary) {
					t.Fatalf("want a dictionary error, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, ok := d.Lookup(tt.lookup)
			if !ok {
				t.Fatalf("%s not found", tt.lookup)
			}
			if got.Name != tt.want.Name || got.Vendor != tt.want.Vendor || got.Type != tt.want.Type || got.Data != tt.want.Data || len(got.Values) != len(tt.want.Values) {
				t.Errorf("(-want +got)\n-%+v\n+%+v", tt.want, *got)
			}
			for k, v := range tt.want.Values {
				if got.Values[k] != v {
					t.Errorf("value %s: %d", k, got.Values[k])
				}
			}
			if byCode, ok := d.ByCode(got.Vendor, got.Type); !ok || byCode != got {
				t.Errorf("ByCode(%d, %d) = %v", got.Vendor, got.Type, byCode)
			}
		})
	}
}

func TestDictionaryLoadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("dictionary", "$INCLUDE dictionary.acme\n$INCLUDE- dictionary.missing\n")
	write("dictionary.acme", "VENDOR Acme 9999\nBEGIN-VENDOR Acme\nATTRIBUTE Acme-Up 1 integer\nEND-VENDOR Acme\n")
	d := NewDictionary()
	if err := d.LoadFile(filepath.Join(dir, "dictionary")); err != nil {
		t.Fatal(err)
	}
	if a, ok := d.Lookup("Acme-Up"); !ok || a.Vendor != 9999 {
		t.Errorf("Acme-Up: %+v %v", a, ok)
	}
	write("loop", "$INCLUDE loop\n")
	if err := d.LoadFile(filepath.Join(dir, "loop")); !errors.Is(err, ErrDictionary) {
		t.Errorf("include loop: %v", err)
	}
	if err := d.LoadFile(filepath.Join(dir, "absent")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent file: %v", err)
	}
}

// TestShippedDictionary loads etc/dictionary.bngbox and checks it agrees
// with the built-in definitions the interpreter uses.
func TestShippedDictionary(t *testing.T) {
	d := NewDictionary()
	if err := d.LoadFile("../../../etc/dictionary.bngbox"); err != nil {
		t.Fatal(err)
	}
	for _, r := range replyRules {
		a, ok := d.Lookup(r.name)
		if !ok || a.Vendor != r.vendor || a.Type != r.typ {
			t.Errorf("%s: dictionary says %+v, rule says vendor %d type %d", r.name, a, r.vendor, r.typ)
		}
	}
}

func FuzzParseDictionary(f *testing.F) {
	f.Add([]byte(builtinDictionary))
	f.Add([]byte("VENDOR A 1\nBEGIN-VENDOR A\nATTRIBUTE X 1 integer\nVALUE X Y 2\nEND-VENDOR A\n"))
	f.Add([]byte("$INCLUDE x\nATTRIBUTE Z 3 octets[4] encrypt=2\n"))
	if b, err := os.ReadFile("../../../etc/dictionary.bngbox"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Dictionary
		err := d.Parse("fuzz", b, func(string, bool) error { return nil })
		if err != nil && !errors.Is(err, ErrDictionary) {
			t.Fatalf("error not wrapping ErrDictionary: %v", err)
		}
		for _, a := range d.byName {
			if a.Type == 0 {
				t.Fatalf("attribute %q with type 0", a.Name)
			}
			if got, ok := d.ByCode(a.Vendor, a.Type); !ok || got == nil {
				t.Fatalf("%q missing from the code index", a.Name)
			}
		}
	})
}
