package aaa

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"os"
	"sync"
	"time"
)

// FileAccounter appends accounting records as JSON lines. Each record is
// written and flushed before Account returns; Sync runs every second.
type FileAccounter struct {
	mu sync.Mutex
	f  *os.File
	w  *bufio.Writer
}

// NewFileAccounter opens (appends to) path.
func NewFileAccounter(path string) (*FileAccounter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, err
	}
	return &FileAccounter{f: f, w: bufio.NewWriter(f)}, nil
}

// FileRecord is the JSON shape of one accounting line.
type FileRecord struct {
	Type        string    `json:"type"`
	Time        time.Time `json:"time"`
	SessionID   string    `json:"session_id,omitempty"`
	User        string    `json:"username,omitempty"`
	CallingSID  string    `json:"calling_sid,omitempty"`
	NASPortID   string    `json:"nas_port_id,omitempty"`
	IP          string    `json:"ip,omitempty"`
	SessionTime float64   `json:"session_time_s"`
	InOctets    uint64    `json:"input_octets"`
	OutOctets   uint64    `json:"output_octets"`
	InPackets   uint64    `json:"input_packets"`
	OutPackets  uint64    `json:"output_packets"`
	Cause       string    `json:"terminate_cause,omitempty"`
}

// NewFileRecord flattens a record. Input is from the subscriber (RFC 2866).
func NewFileRecord(rec *AcctRecord) FileRecord {
	fr := FileRecord{
		Type: rec.Type.String(), Time: rec.Time, SessionTime: rec.SessionTime.Seconds(),
		InOctets: rec.Stats.RxBytes, OutOctets: rec.Stats.TxBytes,
		InPackets: rec.Stats.RxPackets, OutPackets: rec.Stats.TxPackets,
	}
	if rec.Request != nil {
		fr.SessionID, fr.User, fr.CallingSID, fr.NASPortID = rec.Request.SessionID, rec.Request.User, rec.Request.CallingStationID, rec.Request.NASPortID
	}
	if rec.FramedIP.IsValid() {
		fr.IP = rec.FramedIP.String()
	}
	if rec.Type == AcctStop {
		fr.Cause = rec.Cause.String()
	}
	return fr
}

// Account writes one record.
func (a *FileAccounter) Account(rec *AcctRecord) error {
	b, err := json.Marshal(NewFileRecord(rec))
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.w.Write(b)
	a.w.WriteByte('\n')
	return a.w.Flush()
}

// Close flushes, syncs and closes the file.
func (a *FileAccounter) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.w.Flush()
	a.f.Sync()
	return a.f.Close()
}

// LogAccounter logs accounting records (accounting.file empty).
type LogAccounter struct{ Log *slog.Logger }

// Account logs one record.
func (a LogAccounter) Account(rec *AcctRecord) error {
	fr := NewFileRecord(rec)
	a.Log.Info("accounting", "type", fr.Type, "session", fr.SessionID, "user", fr.User, "ip", fr.IP,
		"in_octets", fr.InOctets, "out_octets", fr.OutOctets, "session_time", rec.SessionTime.Round(time.Second), "cause", fr.Cause)
	return nil
}
