package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKeysCommands(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "coffer.db")
	var out, errOut bytes.Buffer
	// serve refuses to start with no key at all.
	require.Equal(t, 2, run(ctx, nil, []string{"serve", "-db", db, "-addr", "127.0.0.1:0"}, env(), &out, &errOut))
	require.Contains(t, errOut.String(), "coffer keys create")

	out.Reset()
	require.Equal(t, 0, run(ctx, nil, []string{"keys", "create", "-db", db, "-name", "ci"}, env(), &out, &errOut), errOut.String())
	secret := regexp.MustCompile(`secret:\s+(sk_test_\S+)`).FindStringSubmatch(out.String())
	require.Len(t, secret, 2, out.String())
	id := regexp.MustCompile(`id:\s+(key_\S+)`).FindStringSubmatch(out.String())
	require.Len(t, id, 2, out.String())

	out.Reset()
	require.Equal(t, 0, run(ctx, nil, []string{"keys", "list", "-db", db}, env(), &out, &errOut), errOut.String())
	require.Contains(t, out.String(), id[1])
	require.Contains(t, out.String(), secret[1][:12]+"...")
	require.NotContains(t, out.String(), secret[1], "list never shows a secret")

	out.Reset()
	require.Equal(t, 0, run(ctx, nil, []string{"keys", "revoke", "-db", db, id[1]}, env(), &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "revoked "+id[1])
	require.Equal(t, 1, run(ctx, nil, []string{"keys", "revoke", "-db", db, "key_missing"}, env(), &out, &errOut))
	require.Equal(t, 2, run(ctx, nil, []string{"keys", "rotate", "-db", db}, env(), &out, &errOut))
	require.Equal(t, 1, run(ctx, nil, []string{"keys", "create", "-db", db, "-customer", "cus_missing"}, env(), &out, &errOut))
}
