package redisbroker

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tornago/tornago/hub"
)

// A topic's presence is two keys in its shard's hash slot: a hash from
// client id to the entry (hub.ClientInfo in JSON) and a sorted set of the
// same ids scored by when each expires (Redis time, in milliseconds), so
// that a node that dies without removing its entries loses them once they
// are not refreshed: every read drops the expired ones first. Both keys
// expire with the longest TTL given, so a topic nobody is left in goes.
var addPresenceScript = newScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
for _, k in ipairs(KEYS) do
	if redis.call('PTTL', k) < ttl then
		redis.call('PEXPIRE', k, ttl)
	end
end
return 1
`)

var removePresenceScript = newScript(`
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`)

// presenceScript drops the expired entries (in batches, which Lua's
// unpack needs) and returns the others.
var presenceScript = newScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for i = 1, #gone, 1000 do
	redis.call('HDEL', KEYS[1], unpack(gone, i, math.min(i + 999, #gone)))
end
if #gone > 0 then
	redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
end
return redis.call('HVALS', KEYS[1])
`)

func (s *shard) presenceKeys(topic string) []string {
	return []string{s.key(topic, ":p"), s.key(topic, ":pe")}
}

// AddPresence implements hub.PresenceBroker.
func (b *Broker) AddPresence(ctx context.Context, topic string, c hub.ClientInfo, ttl time.Duration) error {
	entry, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("redisbroker: presence entry: %w", err)
	}
	s := b.shardOf(topic)
	if _, err := b.run(ctx, addPresenceScript, s.presenceKeys(topic), c.ClientID, entry, ms(ttl)); err != nil {
		return fmt.Errorf("redisbroker: adding presence in %s: %w", topic, err)
	}
	return nil
}

// RemovePresence implements hub.PresenceBroker.
func (b *Broker) RemovePresence(ctx context.Context, topic string, clientID string) error {
	s := b.shardOf(topic)
	if _, err := b.run(ctx, removePresenceScript, s.presenceKeys(topic), clientID); err != nil {
		return fmt.Errorf("redisbroker: removing presence in %s: %w", topic, err)
	}
	return nil
}

// Presence implements hub.PresenceBroker: one script that drops the
// expired entries and returns the others (its cost grows with the
// room's members: see BENCHMARKS.md).
func (b *Broker) Presence(ctx context.Context, topic string) ([]hub.ClientInfo, error) {
	s := b.shardOf(topic)
	res, err := b.run(ctx, presenceScript, s.presenceKeys(topic))
	if err != nil {
		return nil, fmt.Errorf("redisbroker: reading presence in %s: %w", topic, err)
	}
	entries, err := replyStrings(res, 0)
	if err != nil {
		return nil, err
	}
	infos := make([]hub.ClientInfo, len(entries))
	for i, e := range entries {
		if err := json.Unmarshal([]byte(e), &infos[i]); err != nil {
			return nil, fmt.Errorf("redisbroker: presence entry in %s: %w", topic, err)
		}
	}
	return infos, nil
}

// PublishPresence implements hub.PresenceBroker: the event travels on the
// topic's channel, after this node's earlier publishes to it.
func (b *Broker) PublishPresence(ctx context.Context, topic string, e hub.PresenceEvent) error {
	payload, err := encodePresence(b.node, e)
	if err != nil {
		return fmt.Errorf("redisbroker: presence event: %w", err)
	}
	return b.publish(ctx, topic, payload)
}

var _ hub.PresenceBroker = (*Broker)(nil)
