/*
 * The deployment CA: keys, certificates and their extensions through
 * OpenSSL's C API (EVP_PKEY, X509, X509V3), never the openssl command.
 *
 * Names that go into a certificate are checked here first and the
 * subjectAltName is built from GENERAL_NAMEs, not from a configuration
 * string, so that nothing a user types can add a name or an extension
 * the command did not mean.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/crypto.h"
#include "../common/fsx.h"
#include "../common/hex.h"
#include "tls_ca.h"
#include "tls_int.h"

#define PATHLEN		4096
#define SERIAL_BYTES	16

/* ------------------------------------------------------------------ */
/* Names */

static bool
dns_ok(const char *s, size_t max)
{
	size_t n = strlen(s), label = 0, i;

	if (n == 0 || n > max || s[0] == '.' || s[0] == '-' ||
	    s[n - 1] == '.' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
		if (label == 0 && s[i] == '-')
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

const char *
nd_ca_name_check(const char *s)
{
	if (s[0] == '\0')
		return "empty";
	if (strlen(s) > ND_CA_NAME_MAX)
		return "longer than 64 bytes";
	if (!dns_ok(s, ND_CA_NAME_MAX))
		return "not a DNS name (letters, digits, '-' and '.')";
	/* The CA's own files are ca.key and ca.crt. */
	if (strcmp(s, "ca") == 0)
		return "reserved for the CA";
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Certificates */

static enum pd_err
new_key(EVP_PKEY **out, struct pd_error *err)
{
	if ((*out = pd_cr.EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
		return nd_ssl_fail(err, PD_ERR_CRYPTO, "generating a P-256 "
		    "key");
	return PD_OK;
}

/* Random, positive, never zero: RFC 5280 wants at most 20 bytes. */
static enum pd_err
set_serial(X509 *x, struct pd_error *err)
{
	unsigned char b[SERIAL_BYTES];
	BIGNUM *bn = NULL;
	enum pd_err rc = PD_OK;

	if (pd_cr.RAND_bytes(b, sizeof(b)) != 1)
		return nd_ssl_fail(err, PD_ERR_CRYPTO, "random serial");
	b[0] = (unsigned char)((b[0] & 0x7f) | 0x40);
	if ((bn = pd_cr.BN_bin2bn(b, sizeof(b), NULL)) == NULL ||
	    pd_cr.BN_to_ASN1_INTEGER(bn,
	    pd_cr.X509_get_serialNumber(x)) == NULL)
		rc = nd_ssl_fail(err, PD_ERR_CRYPTO, "setting the serial");
	pd_cr.BN_free(bn);
	return rc;
}

static enum pd_err
add_ext(X509 *x, X509V3_CTX *v, int nid, const char *value,
    struct pd_error *err)
{
	X509_EXTENSION *e;
	int ok;

	if ((e = pd_cr.X509V3_EXT_conf_nid(NULL, v, nid, value)) == NULL)
		return nd_ssl_fail(err, PD_ERR_CRYPTO, "extension %s",
		    pd_cr.OBJ_nid2sn(nid));
	ok = pd_cr.X509_add_ext(x, e, -1);
	pd_cr.X509_EXTENSION_free(e);
	if (!ok)
		return nd_ssl_fail(err, PD_ERR_CRYPTO, "extension %s",
		    pd_cr.OBJ_nid2sn(nid));
	return PD_OK;
}

static bool
add_dns(GENERAL_NAMES *gens, const char *s)
{
	GENERAL_NAME *g = pd_cr.GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = pd_cr.ASN1_IA5STRING_new();

	if (g == NULL || ia5 == NULL ||
	    !pd_cr.ASN1_STRING_set(ia5, s, (int)strlen(s))) {
		pd_cr.GENERAL_NAME_free(g);
		pd_cr.ASN1_IA5STRING_free(ia5);
		return false;
	}
	pd_cr.GENERAL_NAME_set0_value(g, GEN_DNS, ia5);
	if (!pd_cr.sk_GENERAL_NAME_push(gens, g)) {
		pd_cr.GENERAL_NAME_free(g);
		return false;
	}
	return true;
}

static bool
add_ip(GENERAL_NAMES *gens, ASN1_OCTET_STRING *ip)
{
	GENERAL_NAME *g = pd_cr.GENERAL_NAME_new();

	if (g == NULL) {
		pd_cr.ASN1_OCTET_STRING_free(ip);
		return false;
	}
	pd_cr.GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
	if (!pd_cr.sk_GENERAL_NAME_push(gens, g)) {
		pd_cr.GENERAL_NAME_free(g);
		return false;
	}
	return true;
}

/* DNS:name, then each host as IP: or DNS:, once each. */
static enum pd_err
add_sans(X509 *x, const struct nd_ca_cert_opts *o, struct pd_error *err)
{
	GENERAL_NAMES *gens;
	ASN1_OCTET_STRING *ip;
	enum pd_err rc = PD_OK;
	size_t i, j;
	bool ok;

	gens = (STACK_OF(GENERAL_NAME) *)pd_cr.OPENSSL_sk_new_null();
	if (gens == NULL || !add_dns(gens, o->name)) {
		rc = pd_fail(err, PD_ERR_NOMEM, "subjectAltName");
		goto out;
	}
	for (i = 0; i < o->nhosts; i++) {
		for (j = 0; j < i && strcmp(o->hosts[j], o->hosts[i]); j++)
			;
		if (j < i || strcmp(o->hosts[i], o->name) == 0)
			continue;
		ip = pd_cr.a2i_IPADDRESS(o->hosts[i]);
		pd_cr.ERR_clear_error();
		ok = ip ? add_ip(gens, ip) : add_dns(gens, o->hosts[i]);
		if (!ok) {
			rc = pd_fail(err, PD_ERR_NOMEM, "subjectAltName");
			goto out;
		}
	}
	if (!pd_cr.X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
	    X509V3_ADD_DEFAULT))
		rc = nd_ssl_fail(err, PD_ERR_CRYPTO, "subjectAltName");
out:
	pd_cr.GENERAL_NAMES_free(gens);
	return rc;
}

/*
 * A certificate for key, named cn, valid [nb, na], signed by signkey
 * with issuer's name (issuer NULL: self-signed CA).  o: a node's names.
 */
static enum pd_err
make_cert(EVP_PKEY *key, const char *cn, int64_t nb, int64_t na,
    X509 *issuer, EVP_PKEY *signkey, const struct nd_ca_cert_opts *o,
    X509 **out, struct pd_error *err)
{
	X509V3_CTX v;
	X509_NAME *n = NULL;
	X509 *x;
	enum pd_err rc;

	*out = NULL;
	if ((x = pd_cr.X509_new()) == NULL ||
	    (n = pd_cr.X509_NAME_new()) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "certificate");
		goto out;
	}
	if (!pd_cr.X509_set_version(x, X509_VERSION_3) ||
	    !pd_cr.X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) ||
	    !pd_cr.X509_set_subject_name(x, n) ||
	    !pd_cr.X509_set_issuer_name(x, issuer ?
	    pd_cr.X509_get_subject_name(issuer) : n) ||
	    pd_cr.ASN1_TIME_set(pd_cr.X509_getm_notBefore(x),
	    (time_t)nb) == NULL ||
	    pd_cr.ASN1_TIME_set(pd_cr.X509_getm_notAfter(x),
	    (time_t)na) == NULL ||
	    !pd_cr.X509_set_pubkey(x, key)) {
		rc = nd_ssl_fail(err, PD_ERR_CRYPTO, "certificate for %s", cn);
		goto out;
	}
	if ((rc = set_serial(x, err)) != PD_OK)
		goto out;
	pd_cr.X509V3_set_ctx(&v, issuer ? issuer : x, x, NULL, NULL, 0);
	if (issuer == NULL)
		rc = add_ext(x, &v, NID_basic_constraints,
		    "critical,CA:TRUE,pathlen:0", err);
	else
		rc = add_ext(x, &v, NID_basic_constraints, "critical,CA:FALSE",
		    err);
	if (rc == PD_OK)
		rc = add_ext(x, &v, NID_key_usage, issuer == NULL ?
		    "critical,keyCertSign,cRLSign" :
		    "critical,digitalSignature", err);
	if (rc == PD_OK)
		rc = add_ext(x, &v, NID_subject_key_identifier, "hash", err);
	if (rc == PD_OK && issuer != NULL)
		rc = add_ext(x, &v, NID_authority_key_identifier,
		    "keyid:always", err);
	if (rc == PD_OK && issuer != NULL)
		rc = add_ext(x, &v, NID_ext_key_usage, "serverAuth,clientAuth",
		    err);
	if (rc == PD_OK && o != NULL)
		rc = add_sans(x, o, err);
	if (rc != PD_OK)
		goto out;
	if (pd_cr.X509_sign(x, signkey, pd_cr.EVP_sha256()) <= 0) {
		rc = nd_ssl_fail(err, PD_ERR_CRYPTO, "signing the certificate "
		    "for %s", cn);
		goto out;
	}
	*out = x;
	x = NULL;
out:
	pd_cr.X509_NAME_free(n);
	pd_cr.X509_free(x);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Files */

static enum pd_err
join(char *out, const char *dir, const char *name, const char *ext,
    struct pd_error *err)
{
	int n = snprintf(out, PATHLEN, "%s/%s%s", dir, name, ext);

	if (n < 0 || n >= PATHLEN)
		return pd_fail(err, PD_ERR_USAGE, "%s: path too long", dir);
	return PD_OK;
}

static enum pd_err
absent(const char *path, struct pd_error *err)
{
	struct stat sb;

	if (lstat(path, &sb) == 0)
		return pd_fail(err, PD_ERR_EXISTS, "%s exists: not "
		    "overwritten", path);
	if (errno != ENOENT)
		return pd_fail_errno(err, PD_ERR_IO, errno, "%s", path);
	return PD_OK;
}

static enum pd_err
write_pem(const char *path, EVP_PKEY *key, X509 *x, struct pd_error *err)
{
	BIO *bio;
	char *p;
	long n;
	enum pd_err rc;
	int ok;

	if ((bio = pd_cr.BIO_new(pd_cr.BIO_s_mem())) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "%s", path);
	ok = key ? pd_cr.PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL,
	    NULL) : pd_cr.PEM_write_bio_X509(bio, x);
	if (!ok || (n = pd_cr.BIO_get_mem_data(bio, &p)) <= 0) {
		pd_cr.BIO_free(bio);
		return nd_ssl_fail(err, PD_ERR_CRYPTO, "%s: encoding", path);
	}
	rc = pd_write_file(path, p, (size_t)n, key ? 0600 : 0644,
	    PD_WRITE_EXCL, err);
	pd_cr.OPENSSL_cleanse(p, (size_t)n);
	pd_cr.BIO_free(bio);
	return rc;
}

/* NAME.key then NAME.crt; a key whose certificate failed is removed. */
static enum pd_err
write_pair(const char *keypath, const char *crtpath, EVP_PKEY *key,
    X509 *x, struct pd_error *err)
{
	enum pd_err rc;

	if ((rc = write_pem(keypath, key, NULL, err)) != PD_OK)
		return rc;
	if ((rc = write_pem(crtpath, NULL, x, err)) != PD_OK)
		unlink(keypath);
	return rc;
}

enum pd_err
nd_ca_init(const char *dir, struct pd_error *err)
{
	char keypath[PATHLEN], crtpath[PATHLEN], cn[64], hex[17];
	unsigned char id[8];
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	int64_t now = (int64_t)time(NULL);
	enum pd_err rc;
	bool made = false;

	if ((rc = pd_crypto_load(err)) != PD_OK ||
	    (rc = join(keypath, dir, "ca", ".key", err)) != PD_OK ||
	    (rc = join(crtpath, dir, "ca", ".crt", err)) != PD_OK)
		return rc;
	if (mkdir(dir, 0700) == 0)
		made = true;
	else if (errno != EEXIST)
		return pd_fail_errno(err, PD_ERR_IO, errno, "mkdir %s", dir);
	if ((rc = absent(keypath, err)) != PD_OK ||
	    (rc = absent(crtpath, err)) != PD_OK)
		goto out;
	/* Two deployments' CAs never share a name: a certificate of one
	 * is never even matched against the other's key. */
	if (pd_cr.RAND_bytes(id, sizeof(id)) != 1) {
		rc = nd_ssl_fail(err, PD_ERR_CRYPTO, "random CA name");
		goto out;
	}
	pd_hex_encode(id, sizeof(id), hex);
	snprintf(cn, sizeof(cn), "pulpdist CA %s", hex);
	if ((rc = new_key(&key, err)) != PD_OK ||
	    (rc = make_cert(key, cn, now - ND_CA_BACKDATE,
	    now + (int64_t)ND_CA_DAYS * 86400, NULL, key, NULL, &x,
	    err)) != PD_OK)
		goto out;
	rc = write_pair(keypath, crtpath, key, x, err);
out:
	if (rc != PD_OK && made)
		rmdir(dir);
	pd_cr.EVP_PKEY_free(key);
	pd_cr.X509_free(x);
	return rc;
}

/* The CA of dir: its key, and its certificate, which must match. */
static enum pd_err
load_ca(const char *dir, EVP_PKEY **key, X509 **crt, struct pd_error *err)
{
	char keypath[PATHLEN], crtpath[PATHLEN];
	STACK_OF(X509) *certs = NULL;
	enum pd_err rc;

	*key = NULL;
	*crt = NULL;
	if ((rc = join(keypath, dir, "ca", ".key", err)) != PD_OK ||
	    (rc = join(crtpath, dir, "ca", ".crt", err)) != PD_OK ||
	    (rc = nd_pem_key(keypath, key, err)) != PD_OK ||
	    (rc = nd_pem_certs(crtpath, &certs, err)) != PD_OK)
		goto out;
	*crt = pd_sk_X509_shift(certs);
	if (pd_cr.X509_check_ca(*crt) != 1) {
		rc = pd_fail(err, PD_ERR_PARSE, "%s: not a CA certificate",
		    crtpath);
		goto out;
	}
	if (pd_cr.X509_check_private_key(*crt, *key) != 1)
		rc = nd_ssl_fail(err, PD_ERR_PARSE, "%s does not match %s",
		    keypath, crtpath);
out:
	pd_cr.sk_X509_pop_free(certs, pd_cr.X509_free);
	if (rc != PD_OK) {
		pd_cr.EVP_PKEY_free(*key);
		pd_cr.X509_free(*crt);
		*key = NULL;
		*crt = NULL;
	}
	return rc;
}

static enum pd_err
check_opts(const struct nd_ca_cert_opts *o, struct pd_error *err)
{
	const char *why;
	ASN1_OCTET_STRING *ip;
	size_t i;

	if ((why = nd_ca_name_check(o->name)) != NULL)
		return pd_fail(err, PD_ERR_USAGE, "node name %s: %s", o->name,
		    why);
	if (o->days > ND_CA_DAYS_MAX)
		return pd_fail(err, PD_ERR_USAGE, "%u days: at most %d",
		    o->days, ND_CA_DAYS_MAX);
	if (o->nhosts > ND_CA_HOSTS_MAX)
		return pd_fail(err, PD_ERR_USAGE, "%zu hosts: at most %d",
		    o->nhosts, ND_CA_HOSTS_MAX);
	for (i = 0; i < o->nhosts; i++) {
		ip = pd_cr.a2i_IPADDRESS(o->hosts[i]);
		pd_cr.ERR_clear_error();
		if (ip != NULL) {
			pd_cr.ASN1_OCTET_STRING_free(ip);
			continue;
		}
		if (!dns_ok(o->hosts[i], ND_CA_HOST_MAX))
			return pd_fail(err, PD_ERR_USAGE, "host %s: neither "
			    "an IP address nor a DNS name", o->hosts[i]);
	}
	return PD_OK;
}

enum pd_err
nd_ca_issue(const char *dir, const struct nd_ca_cert_opts *o,
    int64_t *not_after, struct pd_error *err)
{
	char keypath[PATHLEN], crtpath[PATHLEN];
	EVP_PKEY *cakey = NULL, *key = NULL;
	X509 *ca = NULL, *x = NULL;
	int64_t nb, na;
	enum pd_err rc;

	if ((rc = pd_crypto_load(err)) != PD_OK ||
	    (rc = check_opts(o, err)) != PD_OK ||
	    (rc = join(keypath, dir, o->name, ".key", err)) != PD_OK ||
	    (rc = join(crtpath, dir, o->name, ".crt", err)) != PD_OK ||
	    (rc = absent(keypath, err)) != PD_OK ||
	    (rc = absent(crtpath, err)) != PD_OK ||
	    (rc = load_ca(dir, &cakey, &ca, err)) != PD_OK)
		goto out;
	nb = o->not_before ? o->not_before :
	    (int64_t)time(NULL) - ND_CA_BACKDATE;
	na = nb + (int64_t)(o->days ? o->days : ND_CA_CERT_DAYS) * 86400 +
	    (o->not_before ? 0 : ND_CA_BACKDATE);
	if ((rc = new_key(&key, err)) != PD_OK ||
	    (rc = make_cert(key, o->name, nb, na, ca, cakey, o, &x, err)) !=
	    PD_OK ||
	    (rc = write_pair(keypath, crtpath, key, x, err)) != PD_OK)
		goto out;
	if (not_after)
		*not_after = na;
out:
	pd_cr.EVP_PKEY_free(cakey);
	pd_cr.EVP_PKEY_free(key);
	pd_cr.X509_free(ca);
	pd_cr.X509_free(x);
	return rc;
}
