//go:build !unix

package tornago

import "os"

// staticOpenFlags is a plain read-only open where O_NONBLOCK does not exist;
// the type checks around the open in openBelow still refuse non-files.
const staticOpenFlags = os.O_RDONLY
