package io.nowconnect.tunnel;

import java.io.ByteArrayOutputStream;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Arrays;
import java.util.Base64;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads an EC private key in OpenSSL's traditional SEC1 form ({@code BEGIN EC PRIVATE KEY}, what {@code openssl ecparam
 * -genkey} writes), which the JDK cannot load directly: the DER is wrapped into PKCS#8 ({@code id-ecPublicKey} plus the
 * key's named curve) and handed to the JDK's EC key factory. Named curves only, those the JDK supports (P-256, P-384,
 * P-521); explicit curve parameters are refused.
 */
final class Sec1Keys {
    private static final Pattern BLOCK = Pattern.compile(
            "-----BEGIN EC PRIVATE KEY-----\\s*([A-Za-z0-9+/=\\s]+?)-----END EC PRIVATE KEY-----");
    /** DER of OID 1.2.840.10045.2.1 (id-ecPublicKey). */
    private static final byte[] EC_PUBLIC_KEY = {0x06, 0x07, 0x2a, (byte) 0x86, 0x48, (byte) 0xce, 0x3d, 0x02, 0x01};

    private Sec1Keys() {
    }

    /**
     * The SEC1 key of a PEM text, if it holds one (an {@code EC PARAMETERS} block before it is ignored).
     *
     * @param pem the key file's text
     * @return the private key, empty when the text has no {@code EC PRIVATE KEY} block
     * @throws GeneralSecurityException when the block is there but unusable (encrypted, explicit parameters, bad DER)
     */
    static Optional<PrivateKey> read(String pem) throws GeneralSecurityException {
        Matcher m = BLOCK.matcher(pem);
        if (!m.find()) {
            return Optional.empty();
        }
        String body = m.group(1);
        if (pem.contains("Proc-Type:") || pem.contains("DEK-Info:")) {
            throw new GeneralSecurityException("the EC key is encrypted; the agent needs it unencrypted");
        }
        byte[] der;
        try {
            der = Base64.getMimeDecoder().decode(body);
        } catch (IllegalArgumentException e) {
            throw new GeneralSecurityException("the EC PRIVATE KEY block is not base64");
        }
        byte[] pkcs8 = toPkcs8(der);
        return Optional.of(KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(pkcs8)));
    }

    /**
     * Wrap a SEC1 {@code ECPrivateKey} into a PKCS#8 {@code PrivateKeyInfo}.
     *
     * @param sec1 DER of {@code ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING, [0] parameters, ... }}
     * @return PKCS#8 DER
     * @throws GeneralSecurityException when the structure is not a SEC1 key with a named curve
     */
    static byte[] toPkcs8(byte[] sec1) throws GeneralSecurityException {
        Der outer = new Der(sec1, 0);
        if (outer.tag != 0x30 || outer.end != sec1.length) {
            throw new GeneralSecurityException("not a SEC1 EC private key (DER SEQUENCE expected)");
        }
        Der version = new Der(sec1, outer.start);
        Der key = new Der(sec1, version.end);
        if (version.tag != 0x02 || key.tag != 0x04) {
            throw new GeneralSecurityException("not a SEC1 EC private key (version and key expected)");
        }
        byte[] curve = null;
        for (int at = key.end; at < outer.end; ) {
            Der field = new Der(sec1, at);
            if (field.tag == 0xa0) {
                Der oid = new Der(sec1, field.start);
                if (oid.tag != 0x06) {
                    throw new GeneralSecurityException("the EC key has explicit curve parameters; only named curves "
                                                               + "(P-256, P-384, P-521) are supported");
                }
                curve = Arrays.copyOfRange(sec1, field.start, oid.end);
            }
            at = field.end;
        }
        if (curve == null) {
            throw new GeneralSecurityException("the EC key does not name its curve");
        }
        byte[] algorithm = tlv(0x30, concat(EC_PUBLIC_KEY, curve));
        return tlv(0x30, concat(new byte[] {0x02, 0x01, 0x00}, algorithm, tlv(0x04, sec1)));
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    private static byte[] tlv(int tag, byte[] value) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(tag);
        int n = value.length;
        if (n < 0x80) {
            out.write(n);
        } else if (n < 0x100) {
            out.write(0x81);
            out.write(n);
        } else {
            out.write(0x82);
            out.write(n >> 8);
            out.write(n & 0xff);
        }
        out.writeBytes(value);
        return out.toByteArray();
    }

    /** One DER element: tag, where its value starts and where the element ends. */
    private static final class Der {
        final int tag;
        final int start;
        final int end;

        Der(byte[] b, int at) throws GeneralSecurityException {
            if (at + 2 > b.length) {
                throw new GeneralSecurityException("truncated DER");
            }
            tag = b[at] & 0xff;
            int len = b[at + 1] & 0xff;
            int p = at + 2;
            if (len >= 0x80) {
                int octets = len & 0x7f;
                if (octets == 0 || octets > 2 || p + octets > b.length) {
                    throw new GeneralSecurityException("unsupported DER length");
                }
                len = 0;
                for (int i = 0; i < octets; i++) {
                    len = (len << 8) | (b[p++] & 0xff);
                }
            }
            start = p;
            end = p + len;
            if (end > b.length) {
                throw new GeneralSecurityException("truncated DER");
            }
        }
    }
}
