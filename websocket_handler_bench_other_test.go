//go:build !unix

package tornago_test

import "time"

// processCPU is not measured here; benchmarks then report no CPU time.
func processCPU() time.Duration { return 0 }

// setReceiveBuffer leaves the socket's receive buffer as it is here; a
// stalled peer then takes longer to fill it.
func setReceiveBuffer(uintptr, int) error { return nil }
