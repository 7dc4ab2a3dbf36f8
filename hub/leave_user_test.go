package hub_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tornago/tornago"
	"github.com/tornago/tornago/hub"
	"github.com/tornago/tornago/hub/internal/hubtest"
)

// TestLeaveUser: a connection that leaves its user no longer gets the
// user's messages, the user's other connections still do, and its rooms
// are untouched; leaving a user it is not in changes nothing.
func TestLeaveUser(t *testing.T) {
	t.Parallel()
	h := hub.New()
	srv := hubtest.Start(t, h, tornago.Settings{})
	left := srv.Connect(t, "user=ann&room=x")
	stays := srv.Connect(t, "user=ann")
	require.Equal(t, 2, h.UserConnections("ann"))
	ctx := context.Background()

	h.LeaveUser("ann", left.Sock)
	h.LeaveUser("bob", left.Sock)
	assert.Equal(t, 1, h.UserConnections("ann"))
	require.NoError(t, h.SendToUser(ctx, "ann", []byte("to ann"), false))
	require.NoError(t, h.Publish(ctx, "x", []byte("to room x"), false))
	require.NoError(t, h.SendTo(left.Sock, []byte("direct"), false))
	stays.Expect(t, "to ann")
	left.Expect(t, "to room x", "direct")
	assert.Equal(t, []string{"x"}, h.Rooms(left.Sock))
}
