package testenv

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// A server whose port another socket took between FreeAddr and its bind
// exits at once; start must say so (so that startOnFreePort moves to
// another port) rather than wait for a PONG that cannot come.
func TestRedisStartReportsTakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	// A listener that never answers: a PING to it would hang, not fail.
	r := &RedisServer{bin: LookPath(t, "redis-server"), dir: t.TempDir(), Addr: taken.Addr().String()}
	t.Cleanup(r.Kill)

	err = r.start()
	require.Error(t, err)
	require.Contains(t, err.Error(), "exited")
	require.Contains(t, err.Error(), "Address already in use")
}

// StartRedis ends with a server that answers, and Kill then Start bring
// it back on the same address.
func TestStartRedisRestartsOnSameAddr(t *testing.T) {
	r := StartRedis(t)
	require.True(t, r.answers())
	addr := r.Addr
	r.Kill()
	require.False(t, r.answers())
	r.Start(t)
	require.Equal(t, addr, r.Addr)
	require.True(t, r.answers())
}
