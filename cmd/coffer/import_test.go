package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestImportCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "coffer.db")
	csvFile := filepath.Join(dir, "customers.csv")
	require.NoError(t, os.WriteFile(csvFile, []byte("did,name,email,balance_usd,balance_INR\n"+
		"ext-1,Ada,ada@example.com,1000,\n"+
		"ext-2,Bob,not-an-email,500,20\n"+
		"ext-3,Cy,cy@example.com,12x,\n"+
		"ext-4,Di,di@example.com,250,7500\n"), 0o600))
	var out, errOut bytes.Buffer
	require.Equal(t, 1, run(ctx, nil, []string{"import", "-db", db, "-q", csvFile}, env(), &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "invalid row 2 (did \"ext-2\")")
	require.Contains(t, out.String(), "(line 3)")
	require.Contains(t, out.String(), `invalid row 3 (did "ext-3"): coffer: invalid request: balance_USD: "12x" is not an amount in minor units (line 4)`)
	require.Contains(t, out.String(), "4 rows: 2 imported, 0 already there, 2 invalid; 3 opening-balance entries")
	require.Contains(t, errOut.String(), "2 invalid rows were skipped")

	// Run again: nothing twice.
	out.Reset()
	require.Equal(t, 1, run(ctx, nil, []string{"import", "-db", db, "-q", csvFile}, env(), &out, &errOut))
	require.Contains(t, out.String(), "4 rows: 0 imported, 2 already there, 2 invalid; 0 opening-balance entries")

	// JSON lines, and the imported customer's ledger.
	jl := filepath.Join(dir, "more.jsonl")
	require.NoError(t, os.WriteFile(jl, []byte(`{"customer":{"did":"ext-9","name":"Jo"},"balances":[{"currency":"USD","amount":42}]}`+"\n"), 0o600))
	out.Reset()
	require.Equal(t, 0, run(ctx, nil, []string{"import", "-db", db, jl}, env(), &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "1 rows: 1 imported")

	require.Equal(t, 2, run(ctx, nil, []string{"import", "-db", db, "file.txt"}, env(), &out, &errOut))
	require.Equal(t, 2, run(ctx, nil, []string{"import", "-db", db, "-batch", "0", jl}, env(), &out, &errOut))
}
