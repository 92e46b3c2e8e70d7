package io.nowconnect.config;

/**
 * Where a connector's streams are dialled.
 *
 * @param host host name or IP address of the local service
 * @param port TCP port of the local service
 */
public record Target(String host, int port) {
    @Override
    public String toString() {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
}
