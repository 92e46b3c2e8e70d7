/**
 * The NowConnect tunnel wire protocol: frame records and their codecs, with no I/O and no threads.
 *
 * <p>{@link io.nowconnect.protocol.JsonCodec} implements protocol v1 (JSON text frames) byte for byte as
 * {@code shared/docs/wire-protocol.md} describes it, so the agent works with hubs we did not write.
 * {@link io.nowconnect.protocol.BinaryCodec} implements the negotiated {@code bin1} capability (binary DATA and
 * WINDOW frames).
 */
package io.nowconnect.protocol;
