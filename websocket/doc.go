// Package websocket implements the WebSocket protocol (RFC 6455) and its
// permessage-deflate extension (RFC 7692), server and client, on net/http.
// It knows nothing of tornago's handlers and can be used on its own.
//
// # Server and client
//
// Accept upgrades an HTTP request on any net/http server:
//
//	http.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
//		c, err := websocket.Accept(w, r, nil)
//		if err != nil {
//			return // the HTTP error has been sent
//		}
//		defer c.CloseNow()
//		for {
//			typ, msg, err := c.ReadMessage(r.Context())
//			if err != nil {
//				return
//			}
//			if err := c.WriteMessage(r.Context(), typ, msg); err != nil {
//				return
//			}
//		}
//	})
//
// Dial connects to a ws:// or wss:// URL and returns the same *Conn.
//
// Over HTTP/2 both take RFC 8441's extended CONNECT instead of the
// HTTP/1.1 upgrade: Accept on a request that came over HTTP/2 (the
// handler must then stay until the Conn is closed, as the stream ends with
// it), Dial with DialOptions.HTTP2Transport. See Accept and h2.go.
//
// # Origins
//
// A browser sends the page's origin with every WebSocket handshake, and
// sends the user's cookies whatever the page, so a server that accepts any
// origin lets any web site act as its logged-in users. Accept therefore
// refuses cross-origin requests by default (DefaultCheckOrigin: a request
// without Origin, which browsers always send, is allowed; otherwise the
// Origin's host[:port] must equal the Host header) with 403. Set
// AcceptOptions.CheckOrigin to allow others; never return true for all.
//
// # Concurrency
//
// Any number of goroutines may call WriteMessage, NextWriter,
// WritePrepared, Ping, Close and CloseNow at the same time: messages are
// written whole, one after the other, and control frames may go out
// between the fragments of a message written with NextWriter. Reading
// (ReadMessage, NextReader and the reader it returns) is for one goroutine
// at a time. The reading goroutine answers pings and close frames, so a
// connection should always have one; Close reads by itself when nobody
// does.
//
// A Session's Send, SendPrepared, Ping and Close never wait, and are safe
// from any goroutine too: Send hands the socket what it takes now and
// queues the rest (SendPrepared always queues, so that a broadcast's
// frames reach each connection in one system call); see Sessions below.
//
// # Limits and defaults
//
//	what                           default                 setting                       on violation
//	message size (after inflating) 10 MiB                  ConnOptions.ReadLimit         close 1009, before the payload is read
//	frames per message             1 per 64 B of the limit ConnOptions.MaxFragments      close 1008
//	control frame payload          125 bytes               (RFC)                         close 1002
//	closing handshake              5 s, then TCP closed    ConnOptions.CloseTimeout      —
//	opening handshake (Dial)       30 s                    DialOptions.HandshakeTimeout  error
//	text messages                  UTF-8 checked           (RFC)                         close 1007
//	compression threshold          128 bytes               CompressionOptions.Threshold  smaller messages sent uncompressed
//	protocol errors                —                       —                             close 1002, TCP closed
//
// Protocol errors include: an unmasked frame to a server or a masked one
// to a client; RSV bits without an extension, a reserved opcode, a
// fragmented control frame, a bad continuation; a close payload of 1 byte,
// an invalid close code or a reason that is not UTF-8. Text is checked as it arrives, across fragments.
//
// A frame's declared length is never allocated before its bytes arrive
// (beyond 64 KiB a message buffer grows as data comes in), and 64-bit
// lengths with the top bit set are refused. Every protocol violation is
// answered with a close frame carrying the RFC's code and a short reason,
// after which the TCP connection is closed; reads then return a
// *ProtocolError (errors.Is ErrProtocol and ErrClosed; ErrMessageTooBig for
// 1009). A close frame from the peer is answered and reported as a
// *CloseError with its code and reason. The http.Server in front of Accept
// should set ReadHeaderTimeout and MaxHeaderBytes; Accept clears the
// deadlines the server left on the connection.
//
// A message may span at most ConnOptions.MaxFragments frames (by default
// one per 64 bytes of the read limit and at least 1,024: 163,840 for
// 10 MiB, room for a writer that fragments every 64 bytes, as Autobahn's
// cases do), since the read limit counts bytes and empty continuation
// frames would otherwise keep a message open forever. The frame past the limit fails the connection with 1008: the
// message may be small, and its shape, not its size, is what is refused.
//
// # Ending connections
//
// Every way a connection ends (Close, CloseNow, a session's abort, a protocol error, a
// failed write, the peer's close) follows one rule. The write side is shut
// first, so the peer gets a FIN behind our last frame, and received input
// nobody read is drained before the socket is closed: closing with unread
// input sends a reset instead, and a reset can make the peer's kernel drop
// our close frame before the peer reads it. So a close frame that was
// written (SendClose returned nil, or Close is waiting for the answer)
// reaches the peer however the connection then ends.
//
// The exception is a peer that has stopped reading, whose window and our
// send buffer are full: a graceful close would leave the socket to the
// kernel for minutes, holding most of a megabyte of unsent bytes while it
// probes a window that never opens (2,000 such peers held 1.5 GiB). When a
// write to the peer gave up on a deadline (SetWriteDeadline, a context
// deadline, a session abort's second for its close frame), when the closing handshake
// timed out and the kernel still holds bytes the peer has not acknowledged,
// or when CloseNow finds a write stuck with such bytes, the connection is
// reset with SO_LINGER 0, which discards them and frees the socket at once.
// The kernel's count of those bytes is read on Linux; elsewhere only a
// write that gave up shows a stalled peer.
//
// Over HTTP/2 (RFC 8441) a connection is one stream of a TCP connection
// that other streams share, so none of this applies: ending it ends the
// stream (END_STREAM behind our last frame when the server's handler
// returns, a reset when the client closes early), and a write blocked on a
// peer that stopped reading is broken by resetting that stream alone.
//
// # Contexts and deadlines
//
// ReadMessage, NextReader, WriteMessage, NextWriter, WritePrepared and Ping
// take a context. When it ends during a read, the read returns its error
// and the connection stays usable: the next read resumes the same message
// (except inside a compressed message, where the inflater cannot resume and
// the connection is closed). A write that the context interrupts before any
// byte went out leaves the connection usable; one interrupted midway closes
// it, since the peer could no longer find the frame boundaries. (Over
// HTTP/2 an interrupted write ends the stream either way: net/http resets
// a stream whose write deadline passes.)
// context.Background costs nothing; a cancellable context costs two small
// allocations per call.
//
// # Buffers
//
// An idle connection holds no buffer: on a plain TCP connection the reader
// waits for bytes through the runtime's poller and only then takes an 8 KiB
// buffer from a pool, which goes back once a message has been read; a
// frame is written through a pooled 4 KiB buffer. Larger messages are not
// copied through them: reads go straight into the message, and a server
// writes header and payload with one writev call. A client masks through
// the write buffer in 4 KiB chunks. PreparedMessage encodes a frame once
// for any number of server connections (a broadcast). An idle HTTP/2
// stream waits in a 512-byte buffer of its own (h2_conn.go).
//
// # Sessions: the server's runtime
//
// A Conn is the protocol; a Session is what a server runs on it, the way
// Tornado's protocol object owns pinging and the write path. A Group
// makes sessions (Group.NewSession, before the handshake completes) and
// shuts them all down; Session.Start serves an accepted connection on
// goroutines of the session's (Session.Serve reads on the caller's until
// the connection goes quiet, for a caller whose stack has grown already):
//
//	var group websocket.Group // Shutdown(ctx) closes every session with 1001
//
//	http.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
//		e := &echo{} // implements SessionEvents: OnMessage, OnPing, OnPong, OnClose
//		s, err := group.NewSession(e, websocket.SessionOptions{PingInterval: 30 * time.Second})
//		if err != nil {
//			http.Error(w, "shutting down", http.StatusServiceUnavailable)
//			return
//		}
//		e.s = s // OnMessage answers with e.s.Send(...)
//		c, err := websocket.Accept(w, r, nil)
//		if err != nil {
//			s.Cancel() // OnClose runs, the group lets the session go
//			return
//		}
//		s.Start(c) // returns at once; the handler's goroutine is freed
//	})
//
// A session reads messages and calls OnMessage for each, in order. While
// messages come one at a time the reading goroutine calls it itself,
// which saves a goroutine switch per message; once OnMessage falls behind,
// or has run 50 ms, a dispatcher goroutine calls it and the reading goes
// on beside it (moved to a new goroutine within a keepalive tick, a second
// at most), so pings are answered while a message is handled.
// Send, SendPrepared and Ping never block: a message the socket takes
// whole is written at once, the rest waits in a send queue bounded in
// bytes, and a peer that lets it overflow (SessionOptions.SendQueueSize)
// or stops taking bytes (SendTimeout) is closed with 1008; Flush waits
// for what was queued, Close closes after it. One keepalive goroutine per
// Group pings every session due (PingInterval) and closes with 1000 "ping
// timed out" one that does not answer in PingTimeout.
//
// A goroutine blocked in ReadMessage keeps its stack, several KiB, for as
// long as the connection is quiet. A session parks a quiet connection's
// reader instead: its Group registers the socket with one epoll set
// (Linux) and a reader starts again on a new goroutine when bytes arrive
// or the connection closes. An idle session then costs its Conn, socket
// and Session, a few KiB in all (BENCHMARKS.md). Parking and waking cost
// a few microseconds, so a session keeps reading a busy connection (and a
// new one) and parks it once it goes quiet, or at once when only a pong or
// ping woke it. tornago.WebSocketHandler is an adapter of
// a Session to Tornado's hooks.
//
// # Compression
//
// permessage-deflate is off unless AcceptOptions.Compression (or
// DialOptions.Compression) is set; the server then accepts the first offer
// it can honour and declines the others. With context takeover (the zero
// CompressionOptions), a connection keeps a compressor of most of a
// megabyte once it has sent a compressed message, until the close (a
// Session gives it back to the pool after 2 s without sending); ServerNoContextTakeover keeps none
// and lets a PreparedMessage be compressed once for all receivers. Messages
// under CompressionOptions.Threshold (128 bytes) are sent as they are, as
// are messages written with NextWriter. The read limit counts decompressed
// bytes and inflation stops as soon as it is exceeded, so a compressed
// message cannot expand past the limit in memory.
package websocket
