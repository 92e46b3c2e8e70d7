package io.nowconnect.hub.tls;

import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;

/**
 * The names of an agent's client certificate, for {@code NC_HUB_TLS_BIND_AGENT_ID}: a certificate is bound to the
 * agents whose {@code agent_id} equals (exactly) its subject's CN or one of its string subject alternative names
 * (DNS, e-mail, URI, IP address). Stateless.
 */
public final class ClientCertificates {
    private ClientCertificates() {
    }

    /**
     * Whether the leaf of a peer's chain names the agent.
     *
     * @param chain the peer's certificates, leaf first (empty or absent: no)
     * @param agentId the token's {@code agent_id}
     * @return true when the CN or a SAN equals it
     */
    public static boolean names(Certificate[] chain, String agentId) {
        if (chain == null || chain.length == 0 || !(chain[0] instanceof X509Certificate leaf)) {
            return false;
        }
        return names(leaf).contains(agentId);
    }

    static List<String> names(X509Certificate cert) {
        List<String> names = new ArrayList<>();
        try {
            for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
                if ("CN".equalsIgnoreCase(rdn.getType()) && rdn.getValue() instanceof String cn) {
                    names.add(cn);
                }
            }
        } catch (InvalidNameException e) {
            // no CN then
        }
        try {
            Collection<List<?>> sans = cert.getSubjectAlternativeNames();
            if (sans != null) {
                for (List<?> san : sans) {
                    if (san.size() == 2 && san.get(1) instanceof String value) {
                        names.add(value);
                    }
                }
            }
        } catch (CertificateParsingException e) {
            // no SANs then
        }
        return names;
    }
}
