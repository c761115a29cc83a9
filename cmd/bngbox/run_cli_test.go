package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestHostKeyCreatedOnceAndKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "host")
	k1, created, err := loadOrCreateHostKey(path)
	if err != nil || !created {
		t.Fatalf("first load: created=%v err=%v", created, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi.Mode(), err)
	}
	k2, created, err := loadOrCreateHostKey(path)
	if err != nil || created {
		t.Fatalf("second load: created=%v err=%v", created, err)
	}
	if !bytes.Equal(k1.PublicKey().Marshal(), k2.PublicKey().Marshal()) {
		t.Error("host key changed across loads")
	}
	os.Chmod(path, 0o644)
	if _, _, err := loadOrCreateHostKey(path); err == nil {
		t.Error("world-readable host key accepted")
	}
}
