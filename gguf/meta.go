package gguf

import "fmt"

// Has reports whether the metadata holds key.
func (f *File) Has(key string) bool {
	_, ok := f.kvIndex[key]
	return ok
}

// GetString returns the string stored under key, def when the key is
// absent, and an error naming the key when it holds another type.
func (f *File) GetString(key, def string) (string, error) {
	v, ok := f.Get(key)
	if !ok {
		return def, nil
	}
	s, ok := v.Str()
	if !ok {
		return "", fmt.Errorf("gguf: key %q: expected a string, found %s", key, v.Type)
	}
	return s, nil
}

// GetInt returns the integer stored under key (any integer type), def when
// absent, and an error naming the key when it holds another type.
func (f *File) GetInt(key string, def int64) (int64, error) {
	v, ok := f.Get(key)
	if !ok {
		return def, nil
	}
	i, ok := v.Int()
	if !ok {
		return 0, fmt.Errorf("gguf: key %q: expected an integer, found %s %v", key, v.Type, v.v)
	}
	return i, nil
}

// GetFloat returns the number stored under key, def when absent, and an
// error naming the key when it is not a number.
func (f *File) GetFloat(key string, def float64) (float64, error) {
	v, ok := f.Get(key)
	if !ok {
		return def, nil
	}
	x, ok := v.Float()
	if !ok {
		return 0, fmt.Errorf("gguf: key %q: expected a number, found %s", key, v.Type)
	}
	return x, nil
}

// GetBool returns the bool stored under key, def when absent, and an error
// naming the key when it holds another type.
func (f *File) GetBool(key string, def bool) (bool, error) {
	v, ok := f.Get(key)
	if !ok {
		return def, nil
	}
	b, ok := v.Bool()
	if !ok {
		return false, fmt.Errorf("gguf: key %q: expected a bool, found %s", key, v.Type)
	}
	return b, nil
}
