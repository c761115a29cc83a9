package main

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
)

// pprofEnv names the environment variable that turns on the profiling
// listener: BNGBOX_PPROF_LISTEN=127.0.0.1:6060 serves net/http/pprof at
// /debug/pprof/ (see docs/benchmarks.md). It is an environment variable, not
// a config key, because it is a debugging aid for developers: it exposes
// memory contents and must never be left on in production.
const pprofEnv = "BNGBOX_PPROF_LISTEN"

// startPprof serves pprof on $BNGBOX_PPROF_LISTEN if it is set.
func startPprof(log *slog.Logger) {
	addr := os.Getenv(pprofEnv)
	if addr == "" {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error("pprof listener", "addr", addr, "err", err)
		return
	}
	// Sample every 4 KiB allocated rather than every 512 KiB, so that a heap
	// profile shows per-session allocations.
	runtime.MemProfileRate = 4096
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Warn("pprof listening; for debugging only", "addr", ln.Addr().String())
	go http.Serve(ln, mux)
}
