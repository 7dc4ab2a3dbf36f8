package testenv

import (
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TCPSocketListed reports whether the kernel's TCP table (/proc/net/tcp
// and tcp6) lists a socket from local to remote in any state: open, or
// closed by its program and still held by the kernel (FIN_WAIT1 with
// bytes the peer never took, TIME_WAIT). Tests use it to see that a
// socket was released, not just closed.
func TCPSocketListed(t testing.TB, local, remote net.Addr) bool {
	t.Helper()
	lp, rp := local.(*net.TCPAddr).Port, remote.(*net.TCPAddr).Port
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) >= 3 && procPort(f[1]) == lp && procPort(f[2]) == rp {
				return true
			}
		}
	}
	return false
}

// procPort parses the port of an address in /proc/net/tcp
// ("0100007F:1F90").
func procPort(addr string) int {
	p, _ := strconv.ParseUint(addr[strings.LastIndexByte(addr, ':')+1:], 16, 16)
	return int(p)
}
