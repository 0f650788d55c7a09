package coffer

// pageData unwraps one page for tests that look at a short list whole.
func pageData[T any](l List[T], err error) ([]T, error) { return l.Data, err }
