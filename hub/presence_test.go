package hub_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/hub"
	"github.com/tornago/tornago/hub/internal/hubtest"
)

// clientIDs returns the ids of infos.
func clientIDs(infos []hub.ClientInfo) []string {
	ids := make([]string, len(infos))
	for i, c := range infos {
		ids[i] = c.ClientID
	}
	return ids
}

// expectPresence reads a presence frame.
func expectPresence(t *testing.T, c *hubtest.Client, kind, room, client, user string) {
	t.Helper()
	f := c.ReadFrame(t)
	assert.Equal(t, kind, f.Tornago, "%+v", f)
	assert.Equal(t, room, f.Room)
	assert.Equal(t, client, f.Client.ClientID)
	assert.Equal(t, user, f.Client.UserID)
}

// TestPresenceAcrossThreeNodes: members with presence on three nodes are
// all listed by each node; watchers see joins and leaves from every node;
// a node that dies without removing its members' entries (no refresh, no
// leave) has them expire within the TTL, and the others stay.
func TestPresenceAcrossThreeNodes(t *testing.T) {
	t.Parallel()
	const ttl = time.Second
	var hubs [3]*hub.Hub
	var srvs [3]*hubtest.Server
	for i, b := range hub.NewMemoryBrokers(3) {
		hubs[i] = hub.New(hub.WithBroker(b), hub.WithPresenceTTL(ttl))
		srvs[i] = hubtest.Start(t, hubs[i], tornago.Settings{})
	}
	ctx := context.Background()

	ann := srvs[0].Connect(t, "recover=1&room=lobby&presence=c-ann&user=ann")
	bob := srvs[1].Connect(t, "recover=1&room=lobby&presence=c-bob&user=bob")
	expectPresence(t, ann, "join", "lobby", "c-bob", "bob")
	cyd := srvs[2].Connect(t, "recover=1&room=lobby&presence=c-cyd&user=cyd")
	expectPresence(t, ann, "join", "lobby", "c-cyd", "cyd")
	expectPresence(t, bob, "join", "lobby", "c-cyd", "cyd")
	for i, h := range hubs {
		got, err := h.ClusterPresence(ctx, "lobby")
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{"c-ann", "c-bob", "c-cyd"}, clientIDs(got), "node %d", i)
		assert.Equal(t, 1, h.Presence("lobby"), "node %d counts its own", i)
	}

	bob.CloseNow() // a leave, announced
	expectPresence(t, ann, "leave", "lobby", "c-bob", "bob")
	expectPresence(t, cyd, "leave", "lobby", "c-bob", "bob")
	got, err := hubs[0].ClusterPresence(ctx, "lobby")
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"c-ann", "c-cyd"}, clientIDs(got))

	// Node 2 "dies": its hub stops refreshing, and its member never
	// leaves. Its entry expires; ann's, refreshed, stays.
	require.NoError(t, hubs[2].Close())
	died := time.Now()
	require.Eventually(t, func() bool {
		got, err := hubs[0].ClusterPresence(ctx, "lobby")
		return err == nil && len(got) == 1
	}, 10*ttl, 20*time.Millisecond)
	assert.Less(t, time.Since(died), 10*ttl)
	got, err = hubs[1].ClusterPresence(ctx, "lobby")
	require.NoError(t, err)
	assert.Equal(t, []string{"c-ann"}, clientIDs(got))
	// Long after the TTL, ann's entry is still refreshed.
	time.Sleep(2 * ttl)
	got, err = hubs[1].ClusterPresence(ctx, "lobby")
	require.NoError(t, err)
	assert.Equal(t, []string{"c-ann"}, clientIDs(got))

	ann.CloseNow()
	require.Eventually(t, func() bool {
		got, err := hubs[1].ClusterPresence(ctx, "lobby")
		return err == nil && len(got) == 0
	}, 5*time.Second, 10*time.Millisecond)
	for _, h := range hubs[:2] {
		require.NoError(t, h.Close())
	}
}

// TestPresenceClientIDsAreMadeUnique: a presence without a ClientID gets
// one, different on each node.
func TestPresenceClientIDsAreMadeUnique(t *testing.T) {
	t.Parallel()
	bs := hub.NewMemoryBrokers(2)
	h0, h1 := hub.New(hub.WithBroker(bs[0])), hub.New(hub.WithBroker(bs[1]))
	defer h0.Close()
	defer h1.Close()
	ctx := context.Background()
	var ids []string
	for _, h := range []*hub.Hub{h0, h0, h1} {
		res := h.JoinWith(ctx, "r", &hubtest.Member{}, hub.JoinOptions{Presence: &hub.ClientInfo{UserID: "u"}})
		require.NoError(t, res.PresenceErr)
		require.NotEmpty(t, res.Client.ClientID)
		ids = append(ids, res.Client.ClientID)
	}
	assert.Len(t, ids, 3)
	assert.NotEqual(t, ids[0], ids[1])
	assert.NotEqual(t, ids[0], ids[2])
	got, err := h1.ClusterPresence(ctx, "r")
	require.NoError(t, err)
	assert.ElementsMatch(t, ids, clientIDs(got))

	res := h0.JoinWith(ctx, "r", &hubtest.Member{}, hub.JoinOptions{Presence: &hub.ClientInfo{Info: make([]byte, hub.MaxPresenceInfo+1)}})
	require.Error(t, res.PresenceErr, "info over the bound")
}
