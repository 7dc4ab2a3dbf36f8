package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBadArguments(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-cookie-secrets", "nope"}, {"-nosuchflag"}, {"extra"}} {
		var stderr strings.Builder
		code := run(context.Background(), args, func(string) string { return "" }, io.Discard, &stderr)
		assert.Equal(t, 2, code, "%q", args)
		assert.NotEmpty(t, stderr.String(), "%q", args)
	}
}
