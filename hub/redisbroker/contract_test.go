package redisbroker_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/hub"
	"github.com/tornago/tornago/hub/internal/brokertest"
	"github.com/tornago/tornago/hub/redisbroker"
)

// contractNodes returns the brokertest.Nodes of brokers on one Redis
// (single when addrs has one address, else a cluster), each with its own
// client, sharing a fresh prefix.
func contractNodes(addrs []string, cluster bool) brokertest.Nodes {
	return func(t *testing.T, n int) []hub.Broker {
		prefix := uniquePrefix()
		bs := make([]hub.Broker, n)
		for i := range bs {
			var c redis.UniversalClient
			if cluster {
				c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, DialTimeout: time.Second})
			} else {
				c = redis.NewClient(&redis.Options{Addr: addrs[0], DialTimeout: time.Second})
			}
			t.Cleanup(func() { require.NoError(t, c.Close()) })
			bs[i] = redisbroker.New(c, redisbroker.WithPrefix(prefix), redisbroker.WithLogger(slog.New(slog.DiscardHandler)))
		}
		return bs
	}
}

func TestHistoryContract(t *testing.T) {
	t.Parallel()
	brokertest.TestHistoryBroker(t, contractNodes([]string{redisAddr(t)}, false))
}

func TestPresenceContract(t *testing.T) {
	t.Parallel()
	brokertest.TestPresenceBroker(t, contractNodes([]string{redisAddr(t)}, false))
}

func TestClusterHistoryContract(t *testing.T) {
	t.Parallel()
	brokertest.TestHistoryBroker(t, contractNodes(clusterAddrs(t), true))
}

func TestClusterPresenceContract(t *testing.T) {
	t.Parallel()
	brokertest.TestPresenceBroker(t, contractNodes(clusterAddrs(t), true))
}
