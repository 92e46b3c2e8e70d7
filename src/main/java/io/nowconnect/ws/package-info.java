/**
 * RFC 6455 framing on a connection that Helidon upgraded: {@link io.nowconnect.ws.UpgradedSocket} takes the socket's
 * streams from under Helidon, {@link io.nowconnect.ws.WsReader} reads frames and reassembles messages,
 * {@link io.nowconnect.ws.WsWriter} writes them through its {@link io.nowconnect.ws.Outbox} (an ordered lane for data,
 * shared between streams by the {@link io.nowconnect.ws.FrameScheduler}, and an urgent lane for control frames),
 * {@link io.nowconnect.ws.Handshake} computes the opening handshake's values.
 * The agent uses them on the client side of its tunnel, the hub on the server side.
 *
 * <p><b>Why our own framing and not Helidon's WebSocket layer.</b> This is the one place that says so; other classes
 * and the README link here. Helidon 4.2.0's WebSocket client and server, measured on this project's machines
 * (Temurin 25):
 * <ul>
 *     <li>mask and unmask payloads one byte at a time: client to server (agent to hub) reached about 3 % of a plain
 *     socket's throughput in the same run, with half the client's CPU in the masking loop. Ours masks eight bytes per
 *     step ({@link io.nowconnect.ws.Masking});</li>
 *     <li>let {@code send}, {@code ping}, {@code pong} and {@code close} of one session share a buffer without a
 *     lock: concurrent senders corrupted frames within about 15 frames. Ours takes concurrent senders: each builds
 *     (and masks) its frame on its own thread, and one thread at a time, the holder of the outbox's write lock, puts
 *     them on the socket;</li>
 *     <li>give no signal when the connection just ends: a TCP end, a server stop or an exception in a listener
 *     produce no callback, the next send throws. The client's default read timeout (30 s) and the server's idle
 *     timeout (5 min) close an idle WebSocket just as silently. Ours returns from the read loop when the connection
 *     ends, and that return is the end of the tunnel; the agent sets the connection's read timeout to zero after the
 *     upgrade and relies on its own pings;</li>
 *     <li>set no limit on a message in the client (a hostile hub could exhaust the agent's memory; the server has
 *     {@code maxFrameLength}, 1 MiB by default) and deliver fragmented messages frame by frame. Ours refuses a message
 *     over its limit with close code 1009 from the frame header, before reading the payload, on both ends, and
 *     reassembles fragments;</li>
 *     <li>answer no ping by themselves; ours answers at once, on the urgent lane;</li>
 *     <li>answer an upgrade refused with {@code WsUpgradeException} with 404, where an agent with a bad token must get
 *     401: the hub's upgrader is ours too.</li>
 * </ul>
 * Helidon still does everything around the frames: the HTTP/1 upgrade request and response, TLS, proxies (agent) and,
 * on the hub, the server, routing and the other endpoints. After the upgrade the frames bypass Helidon's
 * {@code DataReader} and {@code DataWriter} ({@link io.nowconnect.ws.UpgradedSocket}): that reader hands out each
 * socket read as a fresh copy of at most 8 KiB and copies again into every payload, where ours reads up to 96 KiB at
 * once and parses frames in place. One setting of Helidon's server matters for the tunnel: it
 * sets {@code SO_RCVBUF} to 4096 on its listening socket unless told otherwise, and every accepted connection inherits
 * it, which held agent to hub bulk under 1 Gbit/s; the hub sets a larger receive buffer.
 *
 * <p>The close codes these classes send and what each means are listed in {@code docs/protocol.md}.
 */
package io.nowconnect.ws;
