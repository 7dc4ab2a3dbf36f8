//go:build !linux

package websocket

// pollerSupported reports whether poller.Wait can park connections on
// this platform: on Linux it can (epoll); elsewhere Wait reports false.
const pollerSupported = false

// pollerSys has nothing to do where Wait never parks.
type pollerSys struct{}

func (s *pollerSys) begin(*poller) error                       { return errPollerClosed }
func (s *pollerSys) end()                                      {}
func (s *pollerSys) newID() uint64                             { return 0 }
func (s *pollerSys) arm(fd uintptr, id uint64, add bool) error { return errPollerClosed }
func (s *pollerSys) close() error                              { return nil }
