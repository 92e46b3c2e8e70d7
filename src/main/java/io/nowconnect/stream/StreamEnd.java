package io.nowconnect.stream;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.time.Duration;

import io.nowconnect.protocol.Direction;

/**
 * What one stream did, told once when it ends (the access log's record): never a payload byte.
 *
 * @param cid the stream's id
 * @param connector its connector
 * @param result {@code ok} after both FINs, otherwise the reset reason or local result ({@code ws_broken}, ...)
 * @param c2aBytes payload bytes from the client toward the target (read from the client on the hub, written to the
 *        target on the agent)
 * @param a2cBytes payload bytes from the target toward the client
 * @param duration from the stream's registration to its end
 * @param peer the local socket's remote address (the client on the hub, the target on the agent); null when the
 *        stream ended before it had a socket (a failed connect, a reset before the start)
 */
public record StreamEnd(String cid, String connector, String result, long c2aBytes, long a2cBytes, Duration duration,
                        InetSocketAddress peer) {

    /** The record of a stream of this end, from what its pumps counted (bytes read from and written to its socket). */
    static StreamEnd of(String cid, String connector, String result, Direction outbound, long read, long written,
                        long openedNanos, Socket socket) {
        boolean c2a = outbound == Direction.C2A;
        SocketAddress peer = socket == null ? null : socket.getRemoteSocketAddress();
        return new StreamEnd(cid, connector, result, c2a ? read : written, c2a ? written : read,
                             Duration.ofNanos(System.nanoTime() - openedNanos),
                             peer instanceof InetSocketAddress a ? a : null);
    }
}
