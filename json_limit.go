package tornago

import (
	"fmt"
	"io"
)

// jsonLimitReader passes a JSON document through while counting its array
// elements and object members (outside strings), and fails the read once
// there are more than limit, so that a body of a million tiny values is
// refused before it is decoded, let alone validated.
type jsonLimitReader struct {
	r         io.Reader
	limit     int
	count     int
	inString  bool
	escaped   bool
	afterOpen bool // the last token outside a string opened an array or object
}

// tooManyJSONElementsError is what jsonLimitReader fails with.
type tooManyJSONElementsError struct{ limit int }

func (e *tooManyJSONElementsError) Error() string {
	return fmt.Sprintf("JSON body has more than %d elements", e.limit)
}

func (c *jsonLimitReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for _, b := range p[:n] {
		if c.inString {
			switch {
			case c.escaped:
				c.escaped = false
			case b == '\\':
				c.escaped = true
			case b == '"':
				c.inString = false
			}
			continue
		}
		if b == ' ' || b == '\t' || b == '\n' || b == '\r' {
			continue
		}
		// A container's first element follows its opening bracket; every
		// further one follows a comma.
		if c.afterOpen && b != ']' && b != '}' {
			c.count++
		}
		c.afterOpen = false
		switch b {
		case '"':
			c.inString = true
		case '[', '{':
			c.afterOpen = true
		case ',':
			c.count++
		}
		if c.count > c.limit {
			return 0, &tooManyJSONElementsError{limit: c.limit}
		}
	}
	return n, err
}
