package radius

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/bngbox/bngbox/pkg/aaa"
)

func TestSpoolRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s, err := openSpool(path, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	items := []*acctItem{
		{sid: "A", typ: aaa.AcctStart, created: time.Unix(100, 5), attrs: []byte{1, 3, 'x'}},
		{sid: "", typ: aaa.AcctOn, created: time.Unix(101, 0)},
		{sid: "A", typ: aaa.AcctStop, created: time.Unix(102, 0), attrs: []byte{44, 3, 'y'}},
	}
	for _, it := range items {
		if err := s.append(it); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.remove(items[1]); err != nil {
		t.Fatal(err)
	}
	s.close()

	s, err = openSpool(path, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	got, _, err := s.load()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d records, want 2", len(got))
	}
	for i, want := range []*acctItem{items[0], items[2]} {
		g := got[i]
		if g.key != want.key || g.sid != want.sid || g.typ != want.typ || !g.created.Equal(want.created) || string(g.attrs) != string(want.attrs) {
			t.Errorf("record %d: (-want +got)\n-%+v\n+%+v", i, *want, *g)
		}
	}
	if st := s.stats(); st.records != 2 || st.bytes != uint64(items[0].size()+items[2].size()) {
		t.Errorf("stats %+v", st)
	}
	// Keys continue after a restart.
	next := &acctItem{sid: "B", typ: aaa.AcctStart, created: time.Unix(103, 0)}
	if err := s.append(next); err != nil || next.key != 4 {
		t.Errorf("next key %d, %v", next.key, err)
	}
}

func TestSpoolFull(t *testing.T) {
	it := &acctItem{sid: "A", typ: aaa.AcctStart, attrs: make([]byte, 100)}
	s, err := openSpool(filepath.Join(t.TempDir(), "spool.db"), 2*it.size())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	var alarms int
	s.onHigh = func(int64, int64) { alarms++ }
	for range 2 {
		if err := s.append(&acctItem{sid: "A", attrs: make([]byte, 100)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.append(&acctItem{sid: "A", attrs: make([]byte, 100)}); !errors.Is(err, ErrSpoolFull) {
		t.Fatalf("want ErrSpoolFull, got %v", err)
	}
	if st := s.stats(); st.full != 1 || st.records != 2 {
		t.Errorf("stats %+v", st)
	}
	if alarms != 1 {
		t.Errorf("high-water alarm ran %d times, want 1", alarms)
	}
}

func TestSpoolCorruptRecord(t *testing.T) {
	for _, v := range [][]byte{nil, {2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9}} {
		if _, err := unmarshalItem(make([]byte, 8), v); !errors.Is(err, errBadRecord) {
			t.Errorf("% x: %v", v, err)
		}
	}
}

// TestSpoolLoadQuarantine: a record that does not decode (a bad disk, a
// newer bngbox's format) does not stop start-up: the good records load in
// order, the bad one moves, bytes intact, to the quarantine bucket, and the
// next start finds nothing to report.
func TestSpoolLoadQuarantine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s, err := openSpool(path, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	a := &acctItem{sid: "A", typ: aaa.AcctStart, created: time.Unix(100, 0), attrs: []byte{1, 3, 'x'}}
	b := &acctItem{sid: "A", typ: aaa.AcctStop, created: time.Unix(101, 0)}
	if err := s.append(a); err != nil {
		t.Fatal(err)
	}
	bad := []byte{9, 1, 2, 3}
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(spoolBucket).Put([]byte{0, 0, 0, 0, 0, 0, 0, 2}, bad)
	}); err != nil {
		t.Fatal(err)
	}
	s.seq = 2
	if err := s.append(b); err != nil {
		t.Fatal(err)
	}
	s.close()

	s, err = openSpool(path, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	got, nbad, err := s.load()
	if err != nil {
		t.Fatalf("load with a corrupt record: %v", err)
	}
	if nbad != 1 || len(got) != 2 || got[0].key != 1 || got[1].key != 3 {
		t.Fatalf("load: %d bad, %d records %v; want 1 bad and records 1, 3", nbad, len(got), got)
	}
	if st := s.stats(); st.records != 2 {
		t.Errorf("stats %+v, want 2 records", st)
	}
	var kept []byte
	s.db.View(func(tx *bbolt.Tx) error {
		if q := tx.Bucket(spoolQuarantine); q != nil {
			kept = bytes.Clone(q.Get([]byte{0, 0, 0, 0, 0, 0, 0, 2}))
		}
		return nil
	})
	if !bytes.Equal(kept, bad) {
		t.Errorf("quarantined record % x, want % x", kept, bad)
	}
	s.close()

	s, err = openSpool(path, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if got, nbad, err := s.load(); err != nil || nbad != 0 || len(got) != 2 {
		t.Errorf("second load: %d records, %d bad, %v; want 2, 0", len(got), nbad, err)
	}
}

// FuzzUnmarshalSpoolItem: a stored value is decoded without panicking, and
// what decodes re-encodes to the same bytes (the record format is
// canonical: every field is kept verbatim).
func FuzzUnmarshalSpoolItem(f *testing.F) {
	for _, it := range []*acctItem{
		{sid: "00000001DEADBEEF", typ: aaa.AcctStop, created: time.Unix(1_800_000_000, 5), attrs: []byte{44, 18, '0', '0', '0', '0', '0', '0', '0', '1', 'D', 'E', 'A', 'D', 'B', 'E', 'E', 'F'}},
		{typ: aaa.AcctOn, created: time.Unix(0, 0)},
	} {
		f.Add(it.marshal())
	}
	f.Add([]byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9})
	key := []byte{0, 0, 0, 0, 0, 0, 0, 7}
	f.Fuzz(func(t *testing.T, v []byte) {
		it, err := unmarshalItem(key, v)
		if err != nil {
			return
		}
		if it.key != 7 {
			t.Errorf("key %d, want 7", it.key)
		}
		if got := it.marshal(); !bytes.Equal(got, v) {
			t.Errorf("re-encoded\n% x\nwant\n% x", got, v)
		}
	})
}

func BenchmarkSpoolAppend(b *testing.B) {
	s, err := openSpool(filepath.Join(b.TempDir(), "spool.db"), 1<<40)
	if err != nil {
		b.Fatal(err)
	}
	defer s.close()
	attrs := make([]byte, 200)
	b.ReportAllocs()
	// Many sessions account at once: bbolt Batch groups their appends into
	// one transaction and one fsync, so ns/op is the amortized cost.
	b.SetParallelism(64)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.append(&acctItem{sid: "00000001DEADBEEF", typ: aaa.AcctStart, created: time.Now(), attrs: attrs}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
