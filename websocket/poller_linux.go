//go:build linux

package websocket

import (
	"encoding/binary"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// pollerSupported reports whether poller.Wait can park connections on
// this platform: on Linux it can (epoll); elsewhere Wait reports false.
const pollerSupported = true

// pollerIdleMillis is how long the poller's goroutine waits with no
// connection registered before it stops and closes its epoll set; it also
// bounds how late it notices that.
const pollerIdleMillis = 200

// pollerEvents are the readiness events a wait asks for. The
// registration is one-shot: after an event the socket is disarmed until
// the next Wait re-arms it, so no event arrives for a connection that is
// being read, and level-triggered, so bytes that arrived before the
// re-arm still wake it.
const pollerEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

// pollerSys is the epoll set and the goroutine waiting on it. Waits hold
// mu for reading from begin to end, so that the goroutine cannot close
// the epoll set under them; it stops (taking mu for writing) only when no
// connection waits.
type pollerSys struct {
	mu      sync.RWMutex
	running bool
	closed  bool
	epfd    int
	evfd    int           // eventfd that wakes the goroutine for Close
	stopped chan struct{} // closed when the goroutine has exited
	nextID  atomic.Uint64
}

// begin makes sure the goroutine runs and holds it running until end.
func (s *pollerSys) begin(p *poller) error {
	for {
		s.mu.RLock()
		if s.running {
			return nil
		}
		s.mu.RUnlock()
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return errPollerClosed
		}
		if !s.running {
			if err := s.start(p); err != nil {
				s.mu.Unlock()
				return err
			}
		}
		s.mu.Unlock()
	}
}

func (s *pollerSys) end() { s.mu.RUnlock() }

// newID returns a registration id; 0 is the eventfd's.
func (s *pollerSys) newID() uint64 { return s.nextID.Add(1) }

// start creates the epoll set and its goroutine; the caller holds mu.
func (s *pollerSys) start(p *poller) error {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	r, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if errno != 0 {
		syscall.Close(epfd)
		return os.NewSyscallError("eventfd2", errno)
	}
	evfd := int(r)
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		syscall.Close(evfd)
		syscall.Close(epfd)
		return os.NewSyscallError("epoll_ctl", err)
	}
	s.epfd, s.evfd, s.running = epfd, evfd, true
	s.stopped = make(chan struct{})
	go s.loop(p, epfd, evfd, s.stopped)
	return nil
}

// arm registers fd for one readiness event reported with id; the caller
// holds mu for reading. add says the socket is not in the set yet as far
// as the connection knows; either way the other operation is tried when
// the kernel disagrees (the set may have been recreated meanwhile).
func (s *pollerSys) arm(fd uintptr, id uint64, add bool) error {
	ev := syscall.EpollEvent{Events: pollerEvents, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
	op, other, retryOn := syscall.EPOLL_CTL_MOD, syscall.EPOLL_CTL_ADD, syscall.ENOENT
	if add {
		op, other, retryOn = other, op, syscall.EEXIST
	}
	err := syscall.EpollCtl(s.epfd, op, int(fd), &ev)
	if err == retryOn {
		err = syscall.EpollCtl(s.epfd, other, int(fd), &ev)
	}
	if err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// loop waits for readiness and wakes the connections it belongs to. It
// exits when Close signals the eventfd, or when no connection has waited
// for pollerIdleMillis.
func (s *pollerSys) loop(p *poller, epfd, evfd int, stopped chan struct{}) {
	defer close(stopped)
	events := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(epfd, events, pollerIdleMillis)
		if err == syscall.EINTR {
			continue
		}
		closing := err != nil // cannot happen with a valid set; stop rather than spin
		for _, ev := range events[:max(n, 0)] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if id == 0 {
				closing = true
				continue
			}
			p.wake(id)
		}
		if n == 0 || closing {
			s.mu.Lock()
			if closing || !p.waiters() {
				syscall.Close(epfd)
				syscall.Close(evfd)
				s.running = false
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
		}
	}
}

// close stops the goroutine for good and waits for it.
func (s *pollerSys) close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var stopped chan struct{}
	if s.running {
		stopped = s.stopped
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		syscall.Write(s.evfd, one[:])
	}
	s.mu.Unlock()
	if stopped != nil {
		<-stopped
	}
	return nil
}
