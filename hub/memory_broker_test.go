package hub_test

import (
	"testing"

	"github.com/tornago/tornago/hub"
	"github.com/tornago/tornago/hub/internal/brokertest"
)

// memoryNodes makes n connected memory brokers, as brokertest wants them.
func memoryNodes(t *testing.T, n int) []hub.Broker {
	bs := make([]hub.Broker, n)
	for i, b := range hub.NewMemoryBrokers(n) {
		bs[i] = b
	}
	return bs
}

func TestMemoryBrokerHistoryContract(t *testing.T) {
	t.Parallel()
	brokertest.TestHistoryBroker(t, memoryNodes)
}

func TestMemoryBrokerPresenceContract(t *testing.T) {
	t.Parallel()
	brokertest.TestPresenceBroker(t, memoryNodes)
}
