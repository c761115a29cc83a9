package telemetry

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// store keeps the last retained state of every user in a bbolt file, so
// that it can be republished (retained) after a restart.
//
// mochi's hooks/storage/bolt would persist every retained message, but also
// every client, subscription and in-flight QoS message with one fsync each;
// we only need the per-user state and want one transaction per batch of
// events, so this is our own ten-line store.
type store struct {
	db *bolt.DB
}

var bucketState = []byte("state")

func openStore(path string) (*store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("telemetry: open store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketState)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("telemetry: init store %s: %w", path, err)
	}
	return &store{db: db}, nil
}

// load returns the stored state by user. Undecodable entries are skipped.
func (s *store) load() (map[string]State, error) {
	out := map[string]State{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketState).ForEach(func(k, v []byte) error {
			var st State
			if json.Unmarshal(v, &st) == nil && EscapeUser(st.User) == string(k) {
				out[st.User] = st
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("telemetry: load store: %w", err)
	}
	return out, nil
}

// put writes the states (JSON by user) in one transaction. Keys are the
// escaped user names (bbolt keys must not be empty).
func (s *store) put(states map[string][]byte) error {
	if len(states) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketState)
		for u, v := range states {
			if err := b.Put([]byte(EscapeUser(u)), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("telemetry: write store: %w", err)
	}
	return nil
}

func (s *store) close() error { return s.db.Close() }
