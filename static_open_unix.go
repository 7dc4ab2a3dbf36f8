//go:build unix

package tornago

import (
	"os"
	"syscall"
)

// staticOpenFlags opens static files non-blocking: on a regular file it
// changes nothing, on a named pipe swapped in after the type check it makes
// the open return at once instead of waiting for a writer.
const staticOpenFlags = os.O_RDONLY | syscall.O_NONBLOCK
