package testenv

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RedisCluster is a Redis Cluster of a test's own: masters only (no
// replicas) on loopback ports, each a RedisServer that Kill and Start
// stop and start again with its identity and slots (its nodes.conf stays
// in its directory). The cluster keeps serving the slots of the masters
// that are up while one is down (cluster-require-full-coverage no), and
// a node is declared failed after 1 s (cluster-node-timeout). Every node
// is killed when the test ends.
type RedisCluster struct {
	// Masters are the nodes, in the order of Addrs.
	Masters []*RedisServer
}

// StartRedisCluster starts masters redis-server processes in cluster
// mode, joins them into one cluster with redis-cli --cluster create (the
// slots spread evenly), and waits until every node reports the cluster
// ok. It skips/fails t via Missing when redis-server or redis-cli (Debian's
// redis-tools) is not installed.
func StartRedisCluster(t testing.TB, masters int) *RedisCluster {
	t.Helper()
	bin, cli := LookPath(t, "redis-server"), LookPath(t, "redis-cli")
	c := &RedisCluster{}
	for range masters {
		r := &RedisServer{bin: bin, dir: t.TempDir()}
		r.startOnFreePort(t, func() []string {
			_, busPort, _ := net.SplitHostPort(FreeAddr(t))
			return []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
				"--cluster-port", busPort, "--cluster-node-timeout", "1000",
				"--cluster-require-full-coverage", "no"}
		})
		c.Masters = append(c.Masters, r)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("testenv: redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitOK(t)
	return c
}

// Addrs returns the masters' host:port addresses.
func (c *RedisCluster) Addrs() []string {
	addrs := make([]string, len(c.Masters))
	for i, r := range c.Masters {
		addrs[i] = r.Addr
	}
	return addrs
}

// WaitOK waits until every node answers CLUSTER INFO with cluster_state:ok
// and knows all its peers, as after StartRedisCluster or once a restarted
// master has rejoined.
func (c *RedisCluster) WaitOK(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, r := range c.Masters {
		for {
			info := r.cli(t, "cluster", "info")
			if strings.Contains(info, "cluster_state:ok") &&
				strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(len(c.Masters))) &&
				strings.Contains(info, "cluster_slots_fail:0") && strings.Contains(info, "cluster_slots_pfail:0") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("testenv: Redis Cluster node %s not ok:\n%s\nits log:\n%s", r.Addr, info, r.Log())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// cli runs redis-cli against the server and returns its output (empty if
// the server does not answer).
func (r *RedisServer) cli(t testing.TB, args ...string) string {
	host, port, _ := net.SplitHostPort(r.Addr)
	out, _ := exec.Command(LookPath(t, "redis-cli"), append([]string{"-h", host, "-p", port}, args...)...).Output()
	return string(out)
}
