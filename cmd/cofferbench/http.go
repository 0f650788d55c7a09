package main

// The HTTP rows (path http): ledger entries POSTed to the HTTP API
// (httpapi, on a real net/http server on 127.0.0.1, keep-alive connections,
// one per writer) next to Engine.CreateEntry on a store of its own, as
// httpapi's BenchmarkLedgerEntryRatio does: the row's coffer column is the
// HTTP API, its raw column the Engine, so coffer/raw is HTTP over Engine.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"

	"github.com/cofferhq/coffer/httpapi"
)

const benchKey = "sk_test_cofferbench"

// httpContender posts entries over HTTP to an Engine's httpapi.Handler.
type httpContender struct {
	*cofferContender
	srv *httptest.Server
	tr  *http.Transport
	hc  *http.Client
}

func newHTTPContender(cc *cofferContender, writers int) (*httpContender, error) {
	h, err := httpapi.New(cc.eng, httpapi.WithAuthenticator(func(_ context.Context, secret string) (httpapi.Principal, error) {
		if secret != benchKey {
			return httpapi.Principal{}, fmt.Errorf("unknown key")
		}
		return httpapi.Principal{KeyID: "key_cofferbench"}, nil
	}))
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(h)
	tr := &http.Transport{MaxIdleConns: writers, MaxIdleConnsPerHost: writers, MaxConnsPerHost: writers}
	return &httpContender{cofferContender: cc, srv: srv, tr: tr, hc: &http.Client{Transport: tr}}, nil
}

func (hc *httpContender) op(ctx context.Context) error {
	id := hc.ids[pick(len(hc.ids))]
	key := "bench-" + strconv.FormatInt(hc.keys.Add(1), 10)
	body := `{"amount":1,"currency":"USD","entry_type":"credit","reason":"bench","idempotency_key":"` + key + `"}`
	req, err := http.NewRequestWithContext(ctx, "POST", hc.srv.URL+"/customers/"+id+"/wallets/ledger-entries", bytes.NewReader([]byte(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+benchKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := hc.hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, res.Body) // to the end: the connection is reused
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("POST ledger-entries: status %d", res.StatusCode)
	}
	return nil
}

func (hc *httpContender) close() error {
	hc.srv.Close()
	hc.tr.CloseIdleConnections()
	return hc.cofferContender.close()
}
