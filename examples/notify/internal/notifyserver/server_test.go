package notifyserver

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		keys    map[int]string
		current int
		err     string
	}{
		{in: ""},
		{in: "1=a", keys: map[int]string{1: "a"}, current: 1},
		{in: " 2=new , 1=old ", keys: map[int]string{1: "old", 2: "new"}, current: 2},
		{in: "0=zero,7=a=b", keys: map[int]string{0: "zero", 7: "a=b"}, current: 7},
		{in: "secret", err: `"secret" is not VERSION=SECRET`},
		{in: "1=", err: "not VERSION=SECRET"},
		{in: "-1=a", err: "not VERSION=SECRET"},
		{in: "x=a", err: "not VERSION=SECRET"},
		{in: "1=a,1=b", err: "version 1 given twice"},
	}
	for _, tt := range tests {
		keys, current, err := parseSecrets(tt.in)
		if tt.err != "" {
			assert.ErrorContains(t, err, tt.err, tt.in)
			continue
		}
		assert.NoError(t, err, tt.in)
		assert.Equal(t, tt.keys, keys, tt.in)
		assert.Equal(t, tt.current, current, tt.in)
	}
}
