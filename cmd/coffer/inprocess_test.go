package main

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// inProcess is a `coffer serve` run in this process by startServe.
type inProcess struct {
	addr   string
	out    *syncBuffer
	errOut *syncBuffer
	stop   func() int // cancels serve and returns its exit code
}

// startServe runs `coffer serve args... -addr <free port>` in process with
// getenv and waits until /readyz answers 200 (failing the test if serve
// exits or is not ready within 20 s).
func startServe(t *testing.T, getenv func(string) string, args ...string) inProcess {
	t.Helper()
	addr := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, nil, append(append([]string{"serve"}, args...), "-addr", addr), getenv, &out, &errOut)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d:\n%s", code, errOut.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready:\n%s", errOut.String())
		}
	}
	return inProcess{addr: addr, out: &out, errOut: &errOut, stop: func() int { cancel(); return <-done }}
}
