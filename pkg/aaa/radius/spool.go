package radius

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"

	"github.com/bngbox/bngbox/pkg/aaa"
)

// ErrSpoolFull is returned by Account when the spool reached its size limit.
var ErrSpoolFull = errors.New("radius: accounting spool full")

var (
	spoolBucket     = []byte("acct")
	spoolQuarantine = []byte("acct-undecodable") // records load could not decode
	errBadRecord    = errors.New("radius: bad spool record")
)

// An acctItem is one spooled accounting record.
type acctItem struct {
	key     uint64 // spool key: global append order
	sid     string // Acct-Session-Id ("" for Accounting-On/Off)
	typ     aaa.AcctType
	created time.Time
	attrs   []byte // wire attributes without Acct-Delay-Time
	// notified is set once the unacked-start callback ran. Sender only.
	notified bool
	failures int // failed delivery rounds; sender only
}

// spoolRecordVersion is the first octet of every stored value.
const spoolRecordVersion = 1

// marshal encodes it as: version, type, created (unix ns, 8), sid length
// (2), sid, attributes.
func (it *acctItem) marshal() []byte {
	b := make([]byte, 0, 12+len(it.sid)+len(it.attrs))
	b = append(b, spoolRecordVersion, byte(it.typ))
	b = binary.BigEndian.AppendUint64(b, uint64(it.created.UnixNano()))
	b = binary.BigEndian.AppendUint16(b, uint16(len(it.sid)))
	b = append(b, it.sid...)
	return append(b, it.attrs...)
}

func unmarshalItem(key, v []byte) (*acctItem, error) {
	if len(key) != 8 || len(v) < 12 || v[0] != spoolRecordVersion {
		return nil, errBadRecord
	}
	n := int(binary.BigEndian.Uint16(v[10:12]))
	if len(v) < 12+n {
		return nil, errBadRecord
	}
	return &acctItem{
		key:     binary.BigEndian.Uint64(key),
		typ:     aaa.AcctType(v[1]),
		created: time.Unix(0, int64(binary.BigEndian.Uint64(v[2:10]))),
		sid:     string(v[12 : 12+n]),
		attrs:   append([]byte(nil), v[12+n:]...),
	}, nil
}

func (it *acctItem) size() int64 { return int64(12 + len(it.sid) + len(it.attrs) + 8) }

// A spool is the durable accounting queue (bbolt). append groups
// concurrent callers into one transaction and fsync (bbolt Batch).
type spool struct {
	db  *bbolt.DB
	max int64

	mu      sync.Mutex
	seq     uint64 // last key used; guarded by mu
	bytes   int64  // guarded by mu
	records int64  // guarded by mu
	high    bool   // above 80% (reset below 50%); guarded by mu

	// onHigh is called once each time the spool goes above 80% full.
	onHigh func(bytes, max int64)

	full atomic.Uint64
}

type spoolStats struct{ records, bytes, full uint64 }

func openSpool(path string, max int64) (*spool, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("radius: open spool %s: %w", path, err)
	}
	s := &spool{db: db, max: max}
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(spoolBucket)
		if err != nil {
			return err
		}
		if k, _ := b.Cursor().Last(); len(k) == 8 {
			s.seq = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("radius: spool %s: %w", path, err)
	}
	return s, nil
}

// load returns every stored record in append order. A record that does
// not decode (a damaged disk, a newer bngbox's format) must not keep the
// daemon from starting, nor be lost: it moves, bytes intact, to the
// quarantine bucket (never sent; kept for inspection), and load reports
// how many moved.
func (s *spool) load() (out []*acctItem, bad int, err error) {
	err = s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(spoolBucket)
		var badKeys [][]byte
		err := b.ForEach(func(k, v []byte) error {
			if it, err := unmarshalItem(k, v); err == nil {
				out = append(out, it)
			} else {
				badKeys = append(badKeys, bytes.Clone(k))
			}
			return nil
		})
		if err != nil || len(badKeys) == 0 {
			return err
		}
		q, err := tx.CreateBucketIfNotExists(spoolQuarantine)
		if err != nil {
			return err
		}
		for _, k := range badKeys {
			if err := q.Put(k, bytes.Clone(b.Get(k))); err != nil {
				return err
			}
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		bad = len(badKeys)
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("radius: load spool: %w", err)
	}
	s.mu.Lock()
	for _, it := range out {
		s.bytes += it.size()
		s.records++
	}
	s.mu.Unlock()
	return out, bad, nil
}

// append stores it durably and sets it.key.
func (s *spool) append(it *acctItem) error {
	sz := it.size()
	s.mu.Lock()
	if s.bytes+sz > s.max {
		s.mu.Unlock()
		s.full.Add(1)
		return fmt.Errorf("%w (%d bytes, limit %d)", ErrSpoolFull, s.bytes, s.max)
	}
	s.seq++
	it.key = s.seq
	s.bytes += sz
	s.records++
	high := !s.high && s.bytes > s.max/10*8
	if high {
		s.high = true
	} else if s.high && s.bytes < s.max/2 {
		s.high = false
	}
	used := s.bytes
	s.mu.Unlock()
	if high && s.onHigh != nil {
		s.onHigh(used, s.max)
	}
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], it.key)
	v := it.marshal()
	err := s.db.Batch(func(tx *bbolt.Tx) error {
		return tx.Bucket(spoolBucket).Put(k[:], v)
	})
	if err != nil {
		s.mu.Lock()
		s.bytes -= sz
		s.records--
		s.mu.Unlock()
		return fmt.Errorf("radius: spool append: %w", err)
	}
	return nil
}

// remove deletes an acknowledged record.
func (s *spool) remove(it *acctItem) error {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], it.key)
	err := s.db.Batch(func(tx *bbolt.Tx) error {
		return tx.Bucket(spoolBucket).Delete(k[:])
	})
	if err != nil {
		return fmt.Errorf("radius: spool remove: %w", err)
	}
	s.mu.Lock()
	s.bytes -= it.size()
	s.records--
	s.mu.Unlock()
	return nil
}

func (s *spool) stats() spoolStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return spoolStats{records: uint64(s.records), bytes: uint64(s.bytes), full: s.full.Load()}
}

func (s *spool) close() error { return s.db.Close() }
