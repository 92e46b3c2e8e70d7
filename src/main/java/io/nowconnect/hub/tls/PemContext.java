package io.nowconnect.hub.tls;

import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Optional;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

import io.helidon.common.configurable.Resource;
import io.helidon.common.pki.Keys;

/**
 * A server {@link SSLContext} from the hub's PEM files ({@code NC_HUB_TLS_CERT}, {@code NC_HUB_TLS_KEY}, optionally
 * {@code NC_HUB_TLS_CLIENT_CA}): the files are parsed by Helidon's {@code Keys} (PKCS#8 and PKCS#1 keys), and the key
 * must match the certificate (a new certificate written before its key is refused, not served). Stateless.
 */
public final class PemContext {
    private PemContext() {
    }

    /**
     * Build a context.
     *
     * @param cert certificate chain, the hub's first
     * @param key its private key
     * @param clientCa CAs that sign agents' client certificates, if any
     * @return the context and the certificate it serves
     * @throws IllegalArgumentException naming what is wrong
     */
    static Loaded load(Path cert, Path key, Optional<Path> clientCa) {
        Keys keys;
        try {
            keys = Keys.builder().pem(pem -> pem.key(Resource.create(key)).certChain(Resource.create(cert))).build();
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("cannot load the PEM key material (" + rootMessage(e) + ")", e);
        }
        PrivateKey privateKey = keys.privateKey().orElseThrow(() -> new IllegalArgumentException("no private key"));
        List<X509Certificate> chain = keys.certChain();
        if (chain.isEmpty()) {
            throw new IllegalArgumentException("no certificate in " + cert);
        }
        X509Certificate leaf = chain.getFirst();
        if (!matches(privateKey, leaf)) {
            throw new IllegalArgumentException("the private key does not belong to the certificate");
        }
        try {
            char[] password = new char[0];
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("hub", privateKey, password, chain.toArray(new Certificate[0]));
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, password);
            TrustManagerFactory tmf = null;
            if (clientCa.isPresent()) {
                List<X509Certificate> cas;
                try {
                    cas = Keys.builder().pem(pem -> pem.certificates(Resource.create(clientCa.get()))).build().certs();
                } catch (RuntimeException e) {
                    throw new IllegalArgumentException("cannot load the client CA bundle (" + rootMessage(e) + ")", e);
                }
                if (cas.isEmpty()) {
                    throw new IllegalArgumentException("no certificate in " + clientCa.get());
                }
                KeyStore ts = KeyStore.getInstance("PKCS12");
                ts.load(null, null);
                for (int i = 0; i < cas.size(); i++) {
                    ts.setCertificateEntry("ca-" + i, cas.get(i));
                }
                tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(ts);
            }
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(kmf.getKeyManagers(), tmf == null ? null : tmf.getTrustManagers(), new SecureRandom());
            return new Loaded(context, leaf);
        } catch (GeneralSecurityException | java.io.IOException e) {
            throw new IllegalArgumentException("cannot build the TLS context (" + rootMessage(e) + ")", e);
        }
    }

    /** Sign and verify a probe: true when the key is the certificate's, or its algorithm is not one tried here. */
    /**
     * Whether a private key belongs to a certificate, as the hub checks it at start and on reload (a signature made
     * with the key verifies with the certificate's public key); {@code nowconnect hub check} asks the same.
     *
     * @param key private key
     * @param cert certificate
     * @return true when they belong together (or the key type cannot be checked)
     */
    public static boolean matches(PrivateKey key, X509Certificate cert) {
        String algorithm = switch (key.getAlgorithm()) {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            case "Ed25519", "EdDSA" -> "Ed25519";
            case "Ed448" -> "Ed448";
            default -> null;
        };
        if (algorithm == null || !key.getAlgorithm().equals(cert.getPublicKey().getAlgorithm())
                && !(algorithm.startsWith("Ed") && cert.getPublicKey().getAlgorithm().startsWith("Ed"))) {
            return algorithm == null;
        }
        try {
            byte[] probe = "nowconnect hub key check".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            Signature s = Signature.getInstance(algorithm);
            s.initSign(key);
            s.update(probe);
            byte[] sig = s.sign();
            Signature v = Signature.getInstance(algorithm);
            v.initVerify(cert.getPublicKey());
            v.update(probe);
            return v.verify(sig);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage());
    }

    /**
     * A built context.
     *
     * @param context the server context
     * @param certificate the certificate it serves
     */
    record Loaded(SSLContext context, X509Certificate certificate) {
    }
}
