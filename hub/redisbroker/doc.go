// Package redisbroker connects the hubs of several processes through Redis
// pub/sub, so that a message published to a room on one process reaches
// the room's members on all of them. It works with a single Redis server
// (a *redis.Client) and with a Redis Cluster (a *redis.ClusterClient,
// Redis 7 or later):
//
//	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	// or redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{...}})
//	rooms := hub.New(hub.WithBroker(redisbroker.New(client)))
//	defer client.Close()
//	defer rooms.Close()
//
// Each room (and user) with members on a process is one Redis channel that
// the process subscribes to while it has members there; a publish is one
// PUBLISH. The message carries the publishing process's random node id, so
// a process skips its own publishes (the hub has already delivered them
// locally): every member gets each message once. Publishes made one after
// another reach every process in that order (Redis pub/sub keeps the order
// of one connection's commands, and PUBLISH returns only once Redis has
// sent the message on).
//
// # Single Redis and Redis Cluster
//
// On a single Redis, a room's channel is prefix + "room:" + name, and one
// connection per process SUBSCRIBEs to all of them.
//
// On a Redis Cluster the broker uses sharded pub/sub (SSUBSCRIBE and
// SPUBLISH), which Redis keeps within the node that owns the channel's
// slot instead of sending every message to every node. Topics are spread
// over a fixed number of shards (WithClusterShards, 16 by default) by a
// hash of their name, and a shard's channels all carry the hash tag of
// their shard, prefix + "{N}" + "room:" + name, so that they live in one
// slot: each shard is one subscription connection to the node that owns
// that slot, and every process must use the same number of shards and the
// same prefix (which should not contain braces: a hash tag in the prefix
// would put every shard in one slot). When a shard's node fails, restarts
// or hands its slots to another node, the shard's connection breaks or
// Redis unsubscribes it, and the shard connects again, to the slot's
// owner then, as after any outage below.
//
// # When Redis goes away
//
// Delivery on each process goes on. Publishes fail at once with an error
// matching ErrUnavailable (and hub.ErrLocalOnly): the message reached the
// local members only, and nothing is buffered to be sent later. (Until the
// broker's first connection attempt has failed, commands are tried
// instead: the client connects by itself.) Messages
// other processes manage to publish meanwhile do not arrive here. The
// broker logs the loss (slog, Warn), reports it in Health, reconnects
// with exponential backoff (50 ms doubling up to 5 s, with jitter by
// default), subscribes again to every channel it needs, and logs when it is
// back (Info, with how long it was down). Health says Up only once Redis
// has confirmed every subscription, so the outage a process logs covers
// everything it missed: a message another process published while this
// one was still subscribing again is inside it. Redis pub/sub keeps no
// history, so what was published to a room without history during the
// outage is not replayed: an application that must not miss anything
// gives the room history (below), or refetches its state when Health's
// Outages count grows.
//
// # History, recovery and presence
//
// The broker is a hub.HistoryBroker and a hub.PresenceBroker, with
// everything in Redis so that any process can answer for any other.
//
// A topic with history has two keys next to its channel (in its shard's
// slot on a cluster): a hash with the stream's epoch and top offset, kept
// for the policy's meta TTL after the last publish, and a Redis Stream of
// the latest publications, trimmed to the policy's Size and TTL. A publish
// is one Lua script (EVALSHA): it increments the offset, appends, trims,
// refreshes the expiries and publishes the publication with its position,
// so no process receives a publication the stream lacks, and every process
// receives a topic's publications in offset order. The script is sent
// once: go-redis's retries after a network error are turned off for it,
// as for every publish, since a retry of a command that reached Redis
// would publish twice. A hash that is gone (first use, meta TTL passed,
// Redis flushed or restarted without persistence) gets a new random epoch,
// so a position from before is refused with hub.ErrUnrecoverable rather
// than answered wrongly. Reading since a position is one script too; on a
// process subscribed to the room it also publishes a marker last, and History
// returns once the marker is back, so every publication the read found has
// reached this process's hub first (which is how the hub merges history
// with live publications without a duplicate at the seam).
// While Redis (or, on a cluster, the topic's master) is unreachable,
// publishes to a topic with history fail with ErrUnavailable, which the
// hub reports as hub.ErrNotDelivered: nobody got the message, on any
// process, so nobody has to recover it.
//
// Presence is a hash of entries and a sorted set of their expiry times
// (Redis's clock) per topic; every read drops the expired entries first,
// so the entries of a process that died without removing them disappear
// once their TTL passes without the refresh the hub makes every TTL/3.
// Joins and leaves travel on the topic's channel.
//
// # Publishes that race an outage
//
// A publish is sent once: go-redis's retries after a network error are
// off for it (see History above), so a publish that races Redis's death
// fails with its first error, matching ErrUnavailable, instead of waiting
// through the client's retries and their backoff; and once the broker
// notices the loss (at once when Redis or the node closes the connection),
// publishes still dialing or waiting for a pooled connection stop. A Redis that stops
// answering without closing the connection (a frozen host, a dead
// network) holds a publish for the client's ReadTimeout (redis.Options,
// 3 s by default), or until the caller's context deadline when the client
// has ContextTimeoutEnabled; the broker notices it within twice
// WithPingInterval.
package redisbroker
