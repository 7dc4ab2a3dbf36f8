package redisbroker

// ChannelOf returns the Redis channel of topic, for tests that ask Redis
// who subscribes to it.
func (b *Broker) ChannelOf(topic string) string { return b.shardOf(topic).channel(topic) }
