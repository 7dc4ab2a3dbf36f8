package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago/websocket"
)

// dialTabSince opens /notifications as reconnect.js does after a drop: with
// the position of the last notification seen in the inbox.
func dialTabSince(t *testing.T, s *server, user *http.Cookie, name string, since wireFrame) *websocket.Conn {
	t.Helper()
	pos, err := json.Marshal(map[string]any{"inbox:" + name: map[string]any{"epoch": since.Epoch, "offset": since.Offset}})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+s.Addr+"/notifications?tornago_since="+url.QueryEscape(string(pos)),
		&websocket.DialOptions{Header: http.Header{"Origin": {s.origin()}, "Cookie": {user.String()}}})
	require.NoError(t, err)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// TestTabRecoversWhatItMissed: a tab that reconnects with the position of
// the last notification it saw gets those published while it was away,
// once each and in order, then "joined", then the unread count; a
// position the server cannot recover from is answered "not recovered",
// the page's cue to reload.
func TestTabRecoversWhatItMissed(t *testing.T) {
	t.Parallel()
	s := startServer(t, oldKeys)
	user, _ := login(t, s, "alice")

	tab, err := dialTab(t, s, user)
	require.NoError(t, err)
	_, joined := readFrame(t, tab)
	require.Equal(t, "joined", joined.Tornago)
	require.Nil(t, joined.Recovered, "a first connection asks for nothing")
	assert.Equal(t, push{Unread: 0}, readPush(t, tab))
	notifyUser(t, s, "alice", "zero")
	_, last := readFrame(t, tab)
	require.Equal(t, "pub", last.Tornago)
	require.NoError(t, tab.Close(websocket.StatusGoingAway, "network change"))

	for i := range 3 {
		notifyUser(t, s, "alice", fmt.Sprintf("missed %d", i))
	}
	tab = dialTabSince(t, s, user, "alice", last)
	for i := range 3 {
		_, f := readFrame(t, tab)
		require.Equal(t, "pub", f.Tornago)
		assert.Equal(t, last.Offset+uint64(i)+1, f.Offset)
		var p push
		require.NoError(t, json.Unmarshal([]byte(f.Data), &p))
		assert.Equal(t, push{Text: fmt.Sprintf("missed %d", i), Unread: i + 2}, p)
	}
	_, f := readFrame(t, tab)
	require.Equal(t, "joined", f.Tornago)
	require.NotNil(t, f.Recovered)
	assert.True(t, *f.Recovered)
	assert.Equal(t, push{Unread: 4}, readPush(t, tab))
	notifyUser(t, s, "alice", "live")
	assert.Equal(t, push{Text: "live", Unread: 5}, readPush(t, tab))

	// Another epoch (the history of a process that is gone): not recovered.
	other := dialTabSince(t, s, user, "alice", wireFrame{Epoch: "gone", Offset: 3})
	_, f = readFrame(t, other)
	require.Equal(t, "joined", f.Tornago)
	require.NotNil(t, f.Recovered)
	assert.False(t, *f.Recovered)
	assert.Equal(t, push{Unread: 5}, readPush(t, other))
}
