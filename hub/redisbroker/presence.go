package redisbroker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/tornago/tornago/hub"
)

// A topic's presence is two keys in its shard's hash slot: a hash from
// client id to the entry (see encodeEntry) and a sorted set of the
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

// expireScript drops the expired entries (in batches, which Lua's unpack
// needs). The entries are then read with a plain HGETALL: returning them
// from the script would copy each through a Lua table.
var expireScript = newScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for i = 1, #gone, 1000 do
	redis.call('HDEL', KEYS[1], unpack(gone, i, math.min(i + 999, #gone)))
end
if #gone > 0 then
	redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
end
return #gone
`)

// encodeEntry is an entry as the hash keeps it (the client id is the
// field): the user id's length as a uvarint, the user id, the info.
func encodeEntry(c hub.ClientInfo) []byte {
	b := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(c.UserID)+len(c.Info)), uint64(len(c.UserID)))
	return append(append(b, c.UserID...), c.Info...)
}

func decodeEntry(id, v string) (hub.ClientInfo, error) {
	n, k := binary.Uvarint([]byte(v[:min(len(v), binary.MaxVarintLen64)]))
	if k <= 0 || uint64(len(v)-k) < n {
		return hub.ClientInfo{}, errors.New("malformed entry")
	}
	c := hub.ClientInfo{ClientID: id, UserID: v[k : k+int(n)]}
	if info := v[k+int(n):]; info != "" {
		c.Info = []byte(info)
	}
	return c, nil
}

func (s *shard) presenceKeys(topic string) []string {
	return []string{s.key(topic, ":p"), s.key(topic, ":pe")}
}

// AddPresence implements hub.PresenceBroker.
func (b *Broker) AddPresence(ctx context.Context, topic string, c hub.ClientInfo, ttl time.Duration) error {
	s := b.shardOf(topic)
	if _, err := b.run(ctx, addPresenceScript, s.presenceKeys(topic), c.ClientID, encodeEntry(c), ms(ttl)); err != nil {
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

// Presence implements hub.PresenceBroker: a script that drops the
// expired entries, then HGETALL (its cost grows with the room's members:
// see BENCHMARKS.md).
func (b *Broker) Presence(ctx context.Context, topic string) ([]hub.ClientInfo, error) {
	s := b.shardOf(topic)
	keys := s.presenceKeys(topic)
	if _, err := b.run(ctx, expireScript, keys); err != nil {
		return nil, fmt.Errorf("redisbroker: reading presence in %s: %w", topic, err)
	}
	res, err := b.client.Do(ctx, "hgetall", keys[0]).Result()
	if err != nil {
		return nil, fmt.Errorf("redisbroker: reading presence in %s: %w", topic, err)
	}
	var infos []hub.ClientInfo
	add := func(id, v any) error {
		ids, ok1 := id.(string)
		vs, ok2 := v.(string)
		if !ok1 || !ok2 {
			return errors.New("unexpected reply")
		}
		c, err := decodeEntry(ids, vs)
		infos = append(infos, c)
		return err
	}
	switch r := res.(type) {
	case map[any]any: // RESP3
		infos = make([]hub.ClientInfo, 0, len(r))
		for id, v := range r {
			if err := add(id, v); err != nil {
				return nil, fmt.Errorf("redisbroker: presence entry in %s: %w", topic, err)
			}
		}
	case []any: // RESP2
		infos = make([]hub.ClientInfo, 0, len(r)/2)
		for i := 0; i+1 < len(r); i += 2 {
			if err := add(r[i], r[i+1]); err != nil {
				return nil, fmt.Errorf("redisbroker: presence entry in %s: %w", topic, err)
			}
		}
	default:
		return nil, fmt.Errorf("redisbroker: reading presence in %s: unexpected reply %T", topic, res)
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
