package redisbroker

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tornago/tornago/hub"
)

// A topic's history is two keys in its shard's hash slot: a hash holding
// the stream's epoch ("e") and top offset ("t"), kept for the policy's
// meta TTL after the last publish, and a Redis Stream of the latest
// publications (fields "o" offset, "b" binary flag, "d" data), trimmed to
// the policy's Size (MAXLEN) and TTL (MINID by the entries' time-based
// ids) and expiring TTL after the last publish. A hash without an epoch
// (first use, expired, or lost with Redis) starts a new random one and
// drops whatever stream is left.
//
// The publish script increments the top, appends, trims and publishes the
// publication with its position, all in one script, so no node receives a
// publication that the stream lacks and all nodes receive a topic's
// publications in offset order.
var publishScript = newScript(`
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
	epoch = ARGV[8]
	redis.call('DEL', KEYS[2])
	redis.call('HSET', KEYS[1], 'e', epoch)
end
local offset = string.format('%d', redis.call('HINCRBY', KEYS[1], 't', 1))
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[5], '*', 'o', offset, 'b', ARGV[3], 'd', ARGV[4])
local ttl = tonumber(ARGV[6])
if ttl > 0 then
	local t = redis.call('TIME')
	local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
	redis.call('XTRIM', KEYS[2], 'MINID', string.format('%d', now - ttl))
	redis.call('PEXPIRE', KEYS[2], ttl)
else
	redis.call('PEXPIRE', KEYS[2], ARGV[7])
end
redis.call('PEXPIRE', KEYS[1], ARGV[7])
local publish = 'PUBLISH'
if ARGV[9] == '1' then publish = 'SPUBLISH' end
redis.call(publish, ARGV[1], ARGV[2] .. offset .. ':' .. epoch .. ':' .. ARGV[4])
return {epoch, offset}
`)

// historyScript returns the epoch and top, then, when since is given and
// of the same epoch and not above the top, "ok" and the offset, binary
// flag and data of each of the top-since latest publications still kept,
// oldest first (fewer than asked when some are gone). When ARGV[6] is a
// marker it publishes it on the topic's channel (ARGV[7], SPUBLISH when
// ARGV[8] is "1") last: every publication up to the top was published
// before it, so it comes back to the reader's node after them (see
// Broker.History).
var historyScript = newScript(`
local function read()
	local epoch = redis.call('HGET', KEYS[1], 'e')
	if not epoch then
		epoch = ARGV[5]
		redis.call('DEL', KEYS[2])
		redis.call('HSET', KEYS[1], 'e', epoch, 't', 0)
		redis.call('PEXPIRE', KEYS[1], ARGV[4])
	end
	local top = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
	local res = {epoch, string.format('%d', top)}
	if ARGV[1] == '' or ARGV[1] ~= epoch then
		return res
	end
	local since = tonumber(ARGV[2])
	if since >= top then
		return res
	end
	local ttl = tonumber(ARGV[3])
	if ttl > 0 then
		local t = redis.call('TIME')
		local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
		redis.call('XTRIM', KEYS[2], 'MINID', string.format('%d', now - ttl))
	end
	local entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', top - since)
	table.insert(res, 'ok')
	for i = #entries, 1, -1 do
		local f = entries[i][2]
		table.insert(res, f[2])
		table.insert(res, f[4])
		table.insert(res, f[6])
	end
	return res
end
local res = read()
if ARGV[6] ~= '' then
	local publish = 'PUBLISH'
	if ARGV[8] == '1' then publish = 'SPUBLISH' end
	redis.call(publish, ARGV[7], ARGV[6])
end
return res
`)

// key is the name of one of topic's keys: the channel's name and a
// suffix, in the shard's hash slot.
func (s *shard) key(topic, suffix string) string { return s.names + topic + suffix }

// PublishHistory implements hub.HistoryBroker with one EVALSHA of the
// publish script. While the broker knows the topic's Redis node to be
// unreachable it fails at once with ErrUnavailable; the script is not
// retried after a network error, so a publication is never made twice
// (but an error then does not prove that it was not made).
func (b *Broker) PublishHistory(ctx context.Context, topic string, m hub.Message, policy hub.HistoryPolicy) (hub.Position, error) {
	if !policy.Enabled() {
		return hub.Position{}, fmt.Errorf("redisbroker: PublishHistory to %s without a history policy", topic)
	}
	s := b.shardOf(topic)
	live, err := s.liveContext()
	if err != nil {
		return hub.Position{}, err
	}
	ctx, stop := untilLost(ctx, live)
	defer stop()
	binary, sharded := "0", "0"
	if m.Binary {
		binary = "1"
	}
	if b.cluster {
		sharded = "1"
	}
	res, err := b.run(ctx, publishScript, []string{s.key(topic, ":h"), s.key(topic, ":s")},
		s.channel(topic), header(kindPublication, b.node, m.Binary), binary, m.Data,
		policy.Size, ms(policy.TTL), ms(policy.EffectiveMetaTTL()), newEpoch(), sharded)
	if err != nil {
		return hub.Position{}, s.failed(live, "publishing to "+topic, err)
	}
	fields, err := replyStrings(res, 2)
	if err != nil {
		return hub.Position{}, err
	}
	offset, err := strconv.ParseUint(fields[1], 10, 64)
	if err != nil {
		return hub.Position{}, fmt.Errorf("redisbroker: publish script returned offset %q", fields[1])
	}
	return hub.Position{Epoch: fields[0], Offset: offset}, nil
}

// History implements hub.HistoryBroker with one EVALSHA of the history
// script.
//
// When this node is subscribed to topic, History returns only once its
// Deliverer has been handed every publication up to the top it returns
// that reaches this node, as the memory broker's History does: the script
// publishes a marker after reading, which comes back through the
// subscription after those publications. Without that, a publication that
// the read already found could reach the hub after it made the recovered
// member live, and the member would get it twice.
func (b *Broker) History(ctx context.Context, topic string, since hub.Position, policy hub.HistoryPolicy) ([]hub.Publication, hub.Position, error) {
	s := b.shardOf(topic)
	live, err := s.liveContext()
	if err != nil {
		return nil, hub.Position{}, err
	}
	sinceEpoch := since.Epoch
	if since.IsZero() {
		sinceEpoch = ""
	}
	marker, back := s.newMarker(topic)
	defer s.dropMarker(marker)
	sharded := "0"
	if b.cluster {
		sharded = "1"
	}
	res, err := b.run(ctx, historyScript, []string{s.key(topic, ":h"), s.key(topic, ":s")},
		sinceEpoch, since.Offset, ms(policy.TTL), ms(policy.EffectiveMetaTTL()), newEpoch(),
		marker, s.channel(topic), sharded)
	if err != nil {
		return nil, hub.Position{}, s.failed(live, "reading "+topic+"'s history", err)
	}
	if back != nil {
		select {
		case <-back:
		case <-live.Done():
			return nil, hub.Position{}, fmt.Errorf("%w: lost while reading %s's history: %w", ErrUnavailable, topic, context.Cause(live))
		case <-ctx.Done():
			return nil, hub.Position{}, fmt.Errorf("redisbroker: waiting for %s's publications: %w", topic, context.Cause(ctx))
		}
	}
	fields, err := replyStrings(res, 2)
	if err != nil {
		return nil, hub.Position{}, err
	}
	top := hub.Position{Epoch: fields[0]}
	if top.Offset, err = strconv.ParseUint(fields[1], 10, 64); err != nil {
		return nil, hub.Position{}, fmt.Errorf("redisbroker: history script returned top %q", fields[1])
	}
	if since.IsZero() {
		return nil, top, nil
	}
	var pubs []hub.Publication
	if len(fields) > 2 { // "ok", then triples
		for f := fields[3:]; len(f) >= 3; f = f[3:] {
			offset, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				return nil, hub.Position{}, fmt.Errorf("redisbroker: history entry with offset %q", f[0])
			}
			pubs = append(pubs, hub.Publication{
				Message:  hub.Message{Data: []byte(f[2]), Binary: f[1] == "1"},
				Position: hub.Position{Epoch: top.Epoch, Offset: offset},
			})
		}
	}
	oldest := top.Offset + 1
	if len(pubs) > 0 {
		oldest = pubs[0].Position.Offset
	}
	if err := recoverable(since, top, oldest, len(pubs)); err != nil {
		return nil, top, fmt.Errorf("redisbroker: %s: %w", topic, err)
	}
	return pubs, top, nil
}

// recoverable tells whether pubs, n publications from oldest on, are all
// those after since in a stream at top, and why not.
func recoverable(since, top hub.Position, oldest uint64, n int) error {
	switch {
	case since.Epoch != top.Epoch:
		return fmt.Errorf("%w: epoch %q, the stream's is %q", hub.ErrUnrecoverable, since.Epoch, top.Epoch)
	case since.Offset > top.Offset:
		return fmt.Errorf("%w: offset %d is beyond the stream's top %d", hub.ErrUnrecoverable, since.Offset, top.Offset)
	case oldest > since.Offset+1 || uint64(n) != top.Offset-since.Offset:
		return fmt.Errorf("%w: publications after offset %d are no longer kept", hub.ErrUnrecoverable, since.Offset)
	}
	return nil
}

// WaitSubscribed implements hub.HistoryBroker: it waits until Redis has
// confirmed the subscription to topic on the shard's current connection.
// It fails at once when topic is not subscribed, or when the shard has no
// connection (but waits while it makes its first one).
func (b *Broker) WaitSubscribed(ctx context.Context, topic string) error {
	s := b.shardOf(topic)
	for {
		b.mu.Lock()
		_, wanted := b.topics[topic]
		_, confirmed := s.confirmed[topic]
		up, tried, changed, cause := s.up, s.tried, s.changed, s.err
		b.mu.Unlock()
		switch {
		case !wanted:
			return fmt.Errorf("redisbroker: %s is not subscribed", topic)
		case up && confirmed:
			return nil
		case !up && tried:
			return fmt.Errorf("%w: %w", ErrUnavailable, cause)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("redisbroker: waiting for the subscription to %s: %w", topic, context.Cause(ctx))
		}
	}
}

// newEpoch returns a random epoch name.
func newEpoch() string { return rand.Text()[:12] }

// replyStrings converts a script's reply, an array of at least n strings.
func replyStrings(res any, n int) ([]string, error) {
	arr, ok := res.([]any)
	if !ok || len(arr) < n {
		return nil, fmt.Errorf("redisbroker: unexpected script reply %T", res)
	}
	out := make([]string, len(arr))
	for i, v := range arr {
		if out[i], ok = v.(string); !ok {
			return nil, errors.New("redisbroker: unexpected script reply element")
		}
	}
	return out, nil
}

var _ hub.HistoryBroker = (*Broker)(nil)

// ms is a duration in whole milliseconds, at least 1 when positive.
func ms(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return max(d.Milliseconds(), 1)
}
