package dashboard

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
)

func TestMakeChart(t *testing.T) {
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	days := []coffer.DayBalance{{Day: day, Closing: 0}, {Day: day.AddDate(0, 0, 1), Closing: 1000},
		{Day: day.AddDate(0, 0, 2), Closing: -500}}
	c := makeChart("USD", days, day, day.AddDate(0, 0, 3))
	require.Equal(t, "trend-usd", c.ID)
	require.Equal(t, day.AddDate(0, 0, 2), c.To, "To is the last day shown")
	require.EqualValues(t, 1000, c.Max)
	require.EqualValues(t, -500, c.Min)
	require.EqualValues(t, -500, c.Last)
	// 600 x 160 with 8/16 padding: x 8..592, y 16 (max) .. 144 (min).
	require.Equal(t, "8,101 300,16 592,144", c.Points)
	require.Equal(t, 101, c.ZeroY)
	require.Equal(t, "8,101 8,101 300,16 592,144 592,101", c.Area)

	one := makeChart("EUR", days[:1], day, day.AddDate(0, 0, 1))
	require.Equal(t, "300,16", one.Points, "one flat point, centred, no division by zero")
	require.Empty(t, makeChart("EUR", nil, day, day).Points)
}
