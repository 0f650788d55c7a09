package ids

import (
	"regexp"
	"sync"
	"testing"
)

var idRE = regexp.MustCompile(`^le_[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$`)

func TestNewFormatAndUnique(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]string, 0, 5000)
			for i := 0; i < 5000; i++ {
				local = append(local, New("le"))
			}
			mu.Lock()
			defer mu.Unlock()
			for _, id := range local {
				if !idRE.MatchString(id) {
					t.Errorf("malformed id %q", id)
				}
				if seen[id] {
					t.Errorf("duplicate id %q", id)
				}
				seen[id] = true
			}
		}()
	}
	wg.Wait()
}

func TestNewLongPrefix(t *testing.T) {
	p := "a_prefix_longer_than_the_stack_buffer_holds"
	if id := New(p); len(id) != len(p)+33 || id[:len(p)+1] != p+"_" {
		t.Fatalf("New(%q) = %q", p, id)
	}
}

func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = New("le")
	}
}
