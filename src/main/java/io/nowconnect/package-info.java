/**
 * The entry point and the running agent: {@link io.nowconnect.Main} picks the mode ({@code agent} by default,
 * {@code hub}, {@code demo}, {@code token}) and wires it, {@link io.nowconnect.Modes} runs the modes besides the agent
 * and handles stop signals, {@link io.nowconnect.Agent} is a running agent (the TCP health port and the tunnel
 * supervisor) and {@link io.nowconnect.Version} the build's version.
 *
 * <p>The packages and their jobs, and the path of a byte from client to target, are drawn in the README's
 * "Architecture" section; the wire protocol is {@code docs/protocol.md}.
 */
package io.nowconnect;
