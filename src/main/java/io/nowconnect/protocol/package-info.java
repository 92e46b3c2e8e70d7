/**
 * The NowConnect tunnel wire protocol: frame records and their codecs, with no I/O and no threads.
 *
 * <p>{@link io.nowconnect.protocol.JsonCodec} implements protocol v1 (JSON text frames) byte for byte, so the agent
 * works with hubs we did not write. {@link io.nowconnect.protocol.BinaryCodec} implements the negotiated {@code bin1}
 * capability (binary DATA and WINDOW frames). The protocol as this project implements it (frames, stream states, reset
 * reasons, close codes, capabilities, the {@code bin1} layout and flow control) is described in {@code docs/protocol.md}
 * at the root of the repository.
 */
package io.nowconnect.protocol;
