package io.nowconnect.tunnel;

import java.util.function.Consumer;

import io.helidon.webclient.http1.Http1Client;

import io.nowconnect.config.AgentConfig;
import io.nowconnect.stream.Shares;
import io.nowconnect.stream.StreamBudget;
import io.nowconnect.stream.StreamObserver;
import io.nowconnect.stream.StreamSettings;

/**
 * The production {@link Tunnel.Factory}: {@link TunnelConnection}s over one HTTP client, rebuilt when the TLS files
 * change, and the mapping of the agent's configuration to a connection's settings.
 *
 * <p>Threads: used by the supervisor thread only.
 */
final class ConnectionFactory implements Tunnel.Factory {
    private final TokenSource tokens;
    private final TunnelStatus status;
    private final StreamBudget budget;
    private final Shares shares;
    private final StreamObserver observer;
    private final ReplicaGate gate;
    private Http1Client client;

    ConnectionFactory(Http1Client client, TokenSource tokens, TunnelStatus status, StreamBudget budget,
                      Shares shares, StreamObserver observer) {
        this(client, tokens, status, budget, shares, observer, ReplicaGate.NONE);
    }

    ConnectionFactory(Http1Client client, TokenSource tokens, TunnelStatus status, StreamBudget budget,
                      Shares shares, StreamObserver observer, ReplicaGate gate) {
        this.gate = gate;
        this.client = client;
        this.tokens = tokens;
        this.status = status;
        this.budget = budget;
        this.shares = shares;
        this.observer = observer;
    }

    @Override
    public Tunnel open(TunnelConnection.Settings settings, Consumer<Tunnel> onReady) {
        return new TunnelConnection(settings, client, tokens, status, budget, shares, observer, onReady::accept, gate);
    }

    @Override
    public void reloadTls(AgentConfig config) {
        client = HubClient.create(config);
    }

    /**
     * What a connection says in HELLO and the limits it keeps, from the agent's configuration.
     *
     * @param config agent configuration
     * @param version project version
     * @return settings
     */
    static TunnelConnection.Settings settings(AgentConfig config, String version) {
        StreamSettings streams = new StreamSettings(config.maxWsPayload(), config.queueDepth(), config.idleTimeout(),
                                                    config.connectTimeout(), config.maxInflight(),
                                                    config.streamSendBuffer());
        // a DATA frame of max payload is about 4/3 of it in base64 plus JSON; leave room for hubs with larger chunks
        int maxMessage = Math.max(1 << 20, config.maxWsPayload() * 4);
        return new TunnelConnection.Settings(config.url(), config.agentId(), version, config.connectors(), streams,
                                             config.pingInterval(), config.pingTimeout(), maxMessage);
    }
}
