package gguf

import (
	"fmt"
	"math"
)

// ValueType is the type tag of a metadata value.
type ValueType uint32

// Metadata value types defined by the GGUF format.
const (
	ValueUint8   ValueType = 0
	ValueInt8    ValueType = 1
	ValueUint16  ValueType = 2
	ValueInt16   ValueType = 3
	ValueUint32  ValueType = 4
	ValueInt32   ValueType = 5
	ValueFloat32 ValueType = 6
	ValueBool    ValueType = 7
	ValueString  ValueType = 8
	ValueArray   ValueType = 9
	ValueUint64  ValueType = 10
	ValueInt64   ValueType = 11
	ValueFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64", "float64"}

func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("value-type(%d)", uint32(t))
}

// size returns the encoded size of a fixed-size scalar, or 0 for strings and arrays.
func (t ValueType) size() int {
	switch t {
	case ValueUint8, ValueInt8, ValueBool:
		return 1
	case ValueUint16, ValueInt16:
		return 2
	case ValueUint32, ValueInt32, ValueFloat32:
		return 4
	case ValueUint64, ValueInt64, ValueFloat64:
		return 8
	}
	return 0
}

// Value is one metadata value. Scalars hold the Go type matching their tag
// (uint8 … float64, bool, string). Arrays hold a typed slice ([]uint8 …
// []float64, []bool, []string) or, for arrays of arrays, []Value.
type Value struct {
	Type ValueType
	// Elem is the element type when Type is ValueArray.
	Elem ValueType
	v    any
}

// Any returns the Go value held (see Value).
func (v Value) Any() any { return v.v }

// NewValue wraps a Go value as a metadata value. It accepts the Go types
// listed on Value, int (stored as int64 when it does not fit int32), []int
// (as []int32 when all fit) and []Value (an array of arrays); anything else
// is an error.
func NewValue(x any) (Value, error) {
	switch x := x.(type) {
	case uint8:
		return Value{Type: ValueUint8, v: x}, nil
	case int8:
		return Value{Type: ValueInt8, v: x}, nil
	case uint16:
		return Value{Type: ValueUint16, v: x}, nil
	case int16:
		return Value{Type: ValueInt16, v: x}, nil
	case uint32:
		return Value{Type: ValueUint32, v: x}, nil
	case int32:
		return Value{Type: ValueInt32, v: x}, nil
	case float32:
		return Value{Type: ValueFloat32, v: x}, nil
	case bool:
		return Value{Type: ValueBool, v: x}, nil
	case string:
		return Value{Type: ValueString, v: x}, nil
	case uint64:
		return Value{Type: ValueUint64, v: x}, nil
	case int64:
		return Value{Type: ValueInt64, v: x}, nil
	case float64:
		return Value{Type: ValueFloat64, v: x}, nil
	case int:
		if x >= math.MinInt32 && x <= math.MaxInt32 {
			return Value{Type: ValueInt32, v: int32(x)}, nil
		}
		return Value{Type: ValueInt64, v: int64(x)}, nil
	case []uint8:
		return arrayValue(ValueUint8, x), nil
	case []int8:
		return arrayValue(ValueInt8, x), nil
	case []uint16:
		return arrayValue(ValueUint16, x), nil
	case []int16:
		return arrayValue(ValueInt16, x), nil
	case []uint32:
		return arrayValue(ValueUint32, x), nil
	case []int32:
		return arrayValue(ValueInt32, x), nil
	case []float32:
		return arrayValue(ValueFloat32, x), nil
	case []bool:
		return arrayValue(ValueBool, x), nil
	case []string:
		return arrayValue(ValueString, x), nil
	case []uint64:
		return arrayValue(ValueUint64, x), nil
	case []int64:
		return arrayValue(ValueInt64, x), nil
	case []float64:
		return arrayValue(ValueFloat64, x), nil
	case []int:
		out := make([]int32, len(x))
		for i, e := range x {
			if e < math.MinInt32 || e > math.MaxInt32 {
				wide := make([]int64, len(x))
				for j, e := range x {
					wide[j] = int64(e)
				}
				return arrayValue(ValueInt64, wide), nil
			}
			out[i] = int32(e)
		}
		return arrayValue(ValueInt32, out), nil
	case []Value:
		for _, e := range x {
			if e.Type != ValueArray {
				return Value{}, fmt.Errorf("gguf: []Value holds a %s; only arrays of arrays use []Value", e.Type)
			}
		}
		return arrayValue(ValueArray, x), nil
	case Value:
		return x, nil
	}
	return Value{}, fmt.Errorf("gguf: cannot store a %T as a metadata value", x)
}

func arrayValue(elem ValueType, slice any) Value {
	return Value{Type: ValueArray, Elem: elem, v: slice}
}

// Uint returns the value as an unsigned integer when it is a non-negative integer.
func (v Value) Uint() (uint64, bool) {
	switch x := v.v.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	}
	if i, ok := v.signed(); ok && i >= 0 {
		return uint64(i), true
	}
	return 0, false
}

func (v Value) signed() (int64, bool) {
	switch x := v.v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	}
	return 0, false
}

// Int returns the value as a signed integer when it is an integer that fits.
func (v Value) Int() (int64, bool) {
	if i, ok := v.signed(); ok {
		return i, true
	}
	if u, ok := v.Uint(); ok && u <= math.MaxInt64 {
		return int64(u), true
	}
	return 0, false
}

// Float returns the value as a float64 when it is a number.
func (v Value) Float() (float64, bool) {
	switch x := v.v.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	if i, ok := v.Int(); ok {
		return float64(i), true
	}
	if u, ok := v.Uint(); ok {
		return float64(u), true
	}
	return 0, false
}

// Bool returns the value when it is a bool.
func (v Value) Bool() (bool, bool) {
	b, ok := v.v.(bool)
	return b, ok
}

// Str returns the value when it is a string.
func (v Value) Str() (string, bool) {
	s, ok := v.v.(string)
	return s, ok
}

// Strings returns the value when it is an array of strings.
func (v Value) Strings() ([]string, bool) {
	s, ok := v.v.([]string)
	return s, ok
}

// Float32s returns the value when it is an array of float32.
func (v Value) Float32s() ([]float32, bool) {
	s, ok := v.v.([]float32)
	return s, ok
}

// Ints returns an integer array as []int64 (a copy), whatever its element width.
func (v Value) Ints() ([]int64, bool) {
	if v.Type != ValueArray {
		return nil, false
	}
	conv := func(n int, at func(int) int64) []int64 {
		out := make([]int64, n)
		for i := range out {
			out[i] = at(i)
		}
		return out
	}
	switch s := v.v.(type) {
	case []uint8:
		return conv(len(s), func(i int) int64 { return int64(s[i]) }), true
	case []int8:
		return conv(len(s), func(i int) int64 { return int64(s[i]) }), true
	case []uint16:
		return conv(len(s), func(i int) int64 { return int64(s[i]) }), true
	case []int16:
		return conv(len(s), func(i int) int64 { return int64(s[i]) }), true
	case []uint32:
		return conv(len(s), func(i int) int64 { return int64(s[i]) }), true
	case []int32:
		return conv(len(s), func(i int) int64 { return int64(s[i]) }), true
	case []int64:
		return conv(len(s), func(i int) int64 { return s[i] }), true
	case []uint64:
		for _, e := range s {
			if e > math.MaxInt64 {
				return nil, false
			}
		}
		return conv(len(s), func(i int) int64 { return int64(s[i]) }), true
	}
	return nil, false
}

// Len returns the number of elements of an array value, or 0.
func (v Value) Len() int {
	if v.Type != ValueArray {
		return 0
	}
	switch s := v.v.(type) {
	case []uint8:
		return len(s)
	case []int8:
		return len(s)
	case []uint16:
		return len(s)
	case []int16:
		return len(s)
	case []uint32:
		return len(s)
	case []int32:
		return len(s)
	case []float32:
		return len(s)
	case []bool:
		return len(s)
	case []string:
		return len(s)
	case []uint64:
		return len(s)
	case []int64:
		return len(s)
	case []float64:
		return len(s)
	case []Value:
		return len(s)
	}
	return 0
}

// String formats the value for display; long arrays are abbreviated.
func (v Value) String() string {
	if v.Type != ValueArray {
		if s, ok := v.v.(string); ok {
			return fmt.Sprintf("%q", s)
		}
		return fmt.Sprint(v.v)
	}
	n := v.Len()
	if n > 8 {
		return fmt.Sprintf("[%s × %d]", v.Elem, n)
	}
	return fmt.Sprintf("%v", v.v)
}
