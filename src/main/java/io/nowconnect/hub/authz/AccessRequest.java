package io.nowconnect.hub.authz;

import java.time.Instant;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * What the hub asks the PDP about one client connection: may this client (subject) {@code connect} (action) to this
 * connector, served by this agent through this replica (resource), now, on this listener (context)?
 *
 * <p>The AuthZEN body ({@link #json(Instant)}):
 * <pre>
 * {"subject":  {"type": "client", "id": "127.0.0.2", "properties": {"address": "127.0.0.2"}},
 *  "action":   {"name": "connect"},
 *  "resource": {"type": "connector", "id": "ldap", "properties": {"agent_id": "site-a", "replica": "hub-0"}},
 *  "context":  {"listener": "ldap", "listener_address": "0.0.0.0:1389", "time": "2026-12-05T13:05:00Z"}}
 * </pre>
 * Everything but {@code time} is the decision cache's key; the client's source port is left out so that decisions can
 * be reused.
 *
 * @param clientAddress the client's IP address, as the hub's listener sees it
 * @param connector the connector the listener serves
 * @param agentId the {@code agent_id} of the tunnel that would carry the stream
 * @param replica this hub replica's id
 * @param listenerAddress the listener's bind address ({@code host:port})
 */
public record AccessRequest(String clientAddress, String connector, String agentId, String replica,
                            String listenerAddress) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * The AuthZEN evaluation request body.
     *
     * @param now the time of the request
     * @return JSON text
     */
    public String json(Instant now) {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode subject = root.putObject("subject").put("type", "client").put("id", clientAddress);
        subject.putObject("properties").put("address", clientAddress);
        root.putObject("action").put("name", "connect");
        ObjectNode resource = root.putObject("resource").put("type", "connector").put("id", connector);
        resource.putObject("properties").put("agent_id", agentId).put("replica", replica);
        root.putObject("context").put("listener", connector).put("listener_address", listenerAddress)
                .put("time", now.toString());
        return root.toString();
    }
}
