package redisbroker_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/hub/internal/hubtest"
	"github.com/tornago/tornago/hub/redisbroker"
	"github.com/tornago/tornago/internal/testenv"
)

// Two Applications share a Redis Cluster of three masters through sharded
// pub/sub: a room's messages, whichever master its slot is on, reach the
// members of both, in each publisher's order, once.
func TestClusterTwoNodes(t *testing.T) {
	t.Parallel()
	addrs, prefix := clusterAddrs(t), uniquePrefix()
	n1, n2 := newClusterNode(t, addrs, prefix), newClusterNode(t, addrs, prefix)
	waitUp(t, n1, n2)
	s1 := hubtest.Start(t, n1.hub, tornago.Settings{})
	s2 := hubtest.Start(t, n2.hub, tornago.Settings{})
	c1, c2 := s1.Connect(t, "room=r"), s2.Connect(t, "room=r")
	// More rooms than shards, so every master carries some.
	rooms := make([]string, 24)
	members := map[string][2]*hubtest.Member{}
	for i := range rooms {
		rooms[i] = fmt.Sprint("room", i)
		m := [2]*hubtest.Member{{Keep: true}, {Keep: true}}
		n1.hub.Join(rooms[i], m[0])
		n2.hub.Join(rooms[i], m[1])
		members[rooms[i]] = m
	}
	waitRoomSubscribers(t, n1, "r", 2)
	for _, r := range rooms {
		waitRoomSubscribers(t, n1, r, 2)
	}

	const n = 50
	ctx := context.Background()
	var wg sync.WaitGroup
	for i, p := range []*node{n1, n2} {
		wg.Go(func() {
			for _, m := range hubtest.Seq(fmt.Sprint(i), n) {
				assert.NoError(t, p.hub.Publish(ctx, "r", []byte(m), false))
				for _, r := range rooms {
					assert.NoError(t, p.hub.Publish(ctx, r, []byte(m), false))
				}
			}
		})
	}
	wg.Wait()
	for _, c := range []*hubtest.Client{c1, c2} {
		var got [2][]string
		for range 2 * n {
			m := c.ReadText(t)
			k := int(m[0] - '0')
			got[k] = append(got[k], m)
		}
		assert.Equal(t, [2][]string{hubtest.Seq("0", n), hubtest.Seq("1", n)}, got)
	}
	for _, r := range rooms {
		for _, m := range members[r] {
			require.Eventually(t, func() bool { return len(m.Received()) == 2*n }, 10*time.Second, 5*time.Millisecond,
				"room %s: %d of %d", r, len(m.Received()), 2*n)
			var got [2][]string
			for _, msg := range m.Received() {
				k := int(msg[0] - '0')
				got[k] = append(got[k], msg)
			}
			assert.Equal(t, [2][]string{hubtest.Seq("0", n), hubtest.Seq("1", n)}, got, "room %s", r)
		}
	}
}

// One master of a Redis Cluster of the test's own is killed and started
// again while two nodes run: the rooms on the other masters keep working,
// those on the dead one fail their publishes with ErrUnavailable, Health
// tells, and once the master is back both brokers subscribe there again
// by themselves.
func TestClusterMasterRestarted(t *testing.T) {
	t.Parallel()
	cluster := testenv.StartRedisCluster(t, 3)
	prefix := uniquePrefix()
	opts := []redisbroker.Option{
		redisbroker.WithBackoff(20*time.Millisecond, 200*time.Millisecond),
		redisbroker.WithPingInterval(time.Second),
	}
	n1 := newClusterNode(t, cluster.Addrs(), prefix, opts...)
	n2 := newClusterNode(t, cluster.Addrs(), prefix, opts...)
	waitUp(t, n1, n2)
	rooms := make([]string, 24)
	remote := map[string]*hubtest.Member{}
	for i := range rooms {
		rooms[i] = fmt.Sprint("room", i)
		remote[rooms[i]] = &hubtest.Member{Keep: true}
		n2.hub.Join(rooms[i], remote[rooms[i]])
	}
	for _, r := range rooms {
		waitRoomSubscribers(t, n1, r, 1)
	}
	ctx := context.Background()
	publishAll := func(msg string) (failed []string) {
		for _, r := range rooms {
			if err := n1.hub.Publish(ctx, r, []byte(msg), false); err != nil {
				require.ErrorIs(t, err, redisbroker.ErrUnavailable)
				failed = append(failed, r)
			}
		}
		return failed
	}
	require.Empty(t, publishAll("before"))

	cluster.Masters[0].Kill()
	for _, n := range []*node{n1, n2} {
		require.Eventually(t, func() bool { return !n.hub.Health().Up }, 10*time.Second, 5*time.Millisecond)
	}
	// The shards on the dead master notice at once; the publishes to
	// them fail, the others go through.
	var failed []string
	require.Eventually(t, func() bool {
		failed = publishAll("during")
		return len(failed) > 0 && len(failed) < len(rooms)
	}, 10*time.Second, 50*time.Millisecond, "some rooms but not all on the dead master")
	assert.Contains(t, n1.logs.String(), "Redis connection lost")

	cluster.Masters[0].Start(t)
	cluster.WaitOK(t)
	waitUp(t, n1, n2)
	for _, r := range rooms {
		waitRoomSubscribers(t, n1, r, 1)
	}
	require.Empty(t, publishAll("after"))
	for _, r := range rooms {
		m := remote[r]
		require.Eventually(t, func() bool {
			got := m.Received()
			return len(got) > 0 && got[len(got)-1] == "after"
		}, 10*time.Second, 5*time.Millisecond, "room %s got %v", r, m.Received())
		assert.Equal(t, "before", m.Received()[0], "room %s", r)
	}
	for _, n := range []*node{n1, n2} {
		st := n.hub.Health()
		assert.True(t, st.Up)
		assert.Equal(t, 1, st.Outages)
		assert.Contains(t, n.logs.String(), "Redis connection restored")
	}
}

// The slot of a room's shard moves to another master (CLUSTER SETSLOT, as
// a resharding does): Redis unsubscribes the broker's connection from the
// shard's channels, and the broker subscribes again on the slot's new
// owner by itself, so messages published there keep arriving.
func TestClusterSlotMoved(t *testing.T) {
	t.Parallel()
	cluster := testenv.StartRedisCluster(t, 3)
	prefix := uniquePrefix()
	opts := []redisbroker.Option{redisbroker.WithBackoff(20*time.Millisecond, 200*time.Millisecond)}
	n1 := newClusterNode(t, cluster.Addrs(), prefix, opts...)
	n2 := newClusterNode(t, cluster.Addrs(), prefix, opts...)
	waitUp(t, n1, n2)
	remote := &hubtest.Member{Keep: true}
	n2.hub.Join("r", remote)
	waitRoomSubscribers(t, n1, "r", 1)
	ctx := context.Background()
	require.NoError(t, n1.hub.Publish(ctx, "r", []byte("before"), false))
	require.Eventually(t, func() bool { return len(remote.Received()) == 1 }, 10*time.Second, 5*time.Millisecond)

	cc := n1.client.(*redis.ClusterClient)
	ch := n1.broker.ChannelOf("room:r")
	slot, err := cc.ClusterKeySlot(ctx, ch).Result()
	require.NoError(t, err)
	src, err := cc.MasterForKey(ctx, ch)
	require.NoError(t, err)
	nodes := map[string]*redis.Client{}
	ids := map[string]string{}
	for _, addr := range cluster.Addrs() {
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer c.Close()
		nodes[addr] = c
		ids[addr], err = c.Do(ctx, "cluster", "myid").Text()
		require.NoError(t, err)
	}
	srcAddr := src.Options().Addr
	var dstAddr string
	for addr := range nodes {
		if addr != srcAddr {
			dstAddr = addr
			break
		}
	}
	require.NoError(t, nodes[dstAddr].Do(ctx, "cluster", "setslot", slot, "importing", ids[srcAddr]).Err())
	require.NoError(t, nodes[srcAddr].Do(ctx, "cluster", "setslot", slot, "migrating", ids[dstAddr]).Err())
	for _, addr := range []string{dstAddr, srcAddr} { // the slot has no keys to MIGRATE
		require.NoError(t, nodes[addr].Do(ctx, "cluster", "setslot", slot, "node", ids[dstAddr]).Err())
	}
	require.Eventually(t, func() bool {
		got, err := nodes[dstAddr].PubSubShardNumSub(ctx, ch).Result()
		return err == nil && got[ch] == 1
	}, 20*time.Second, 10*time.Millisecond, "n2 subscribed on the slot's new owner")
	require.Eventually(t, func() bool {
		return n1.hub.Publish(ctx, "r", []byte("after"), false) == nil
	}, 20*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		got := remote.Received()
		return got[len(got)-1] == "after"
	}, 10*time.Second, 5*time.Millisecond, "got %v", remote.Received())
	assert.Contains(t, n2.logs.String(), "unsubscribed")
}
